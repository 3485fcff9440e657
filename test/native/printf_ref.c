/*
 * Reference printer for test/printf.test.ts: formats one value per input line with the C
 * library's snprintf and writes the result followed by '\n'.
 *
 * Input lines: KIND '\t' FORMAT '\t' VALUE '\n', where KIND says which C type the single
 * conversion in FORMAT consumes (so the call is well defined):
 *   D  double, VALUE = its 64-bit pattern in hex (exact, NaN sign included)
 *   I  int, VALUE decimal
 *   L  long long, VALUE decimal
 *   S  char *, VALUE = the bytes up to the newline
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static char line[1 << 16];
static char out[1 << 16];

int main(void) {
  while (fgets(line, sizeof line, stdin)) {
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    char *fmt = strchr(line, '\t');
    if (!fmt) return 2;
    *fmt++ = '\0';
    char *val = strchr(fmt, '\t');
    if (!val) return 2;
    *val++ = '\0';
    int n;
    switch (line[0]) {
    case 'D': {
      uint64_t bits = strtoull(val, NULL, 16);
      double d;
      memcpy(&d, &bits, sizeof d);
      n = snprintf(out, sizeof out, fmt, d);
      break;
    }
    case 'I': n = snprintf(out, sizeof out, fmt, (int)strtol(val, NULL, 10)); break;
    case 'L': n = snprintf(out, sizeof out, fmt, strtoll(val, NULL, 10)); break;
    case 'S': n = snprintf(out, sizeof out, fmt, val); break;
    default: return 2;
    }
    if (n < 0 || (size_t)n >= sizeof out) return 3;
    fwrite(out, 1, (size_t)n, stdout);
    fputc('\n', stdout);
  }
  return 0;
}
