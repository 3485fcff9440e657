/*
 * Reference for test/math-double.test.ts: reads raw native-endian doubles from
 * stdin until EOF and writes FN(x) for each as raw doubles to stdout, using the
 * system libm. Usage: double_ref exp|log2|log, or double_ref version (prints the
 * glibc version, or "none" for another C library).
 * Run it with GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F so glibc
 * picks its plain (non-fma) variants, which the ports reproduce.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (strcmp(argv[1], "version") == 0) {
#ifdef __GLIBC__
    printf("%s\n", gnu_get_libc_version());
#else
    printf("none\n");
#endif
    return 0;
  }
  double (*fn)(double) = nullptr;
  if (strcmp(argv[1], "exp") == 0) fn = exp;
  else if (strcmp(argv[1], "log2") == 0) fn = log2;
  else if (strcmp(argv[1], "log") == 0) fn = log;
  else return 2;
  static double buf[1 << 16];
  size_t n;
  while ((n = fread(buf, sizeof buf[0], sizeof buf / sizeof buf[0], stdin)) > 0) {
    for (size_t i = 0; i < n; i++) buf[i] = fn(buf[i]);
    if (fwrite(buf, sizeof buf[0], n, stdout) != n) return 1;
  }
  return ferror(stdin) ? 1 : 0;
}
