/*
 * Reference for test/rand.test.ts: for each seed given on the command line, calls
 * srand(seed) and prints COUNT rand() values, one per line. Usage: rand_ref COUNT SEED...
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  long count = strtol(argv[1], NULL, 10);
  for (int a = 2; a < argc; a++) {
    srand((unsigned)strtoul(argv[a], NULL, 10));
    for (long k = 0; k < count; k++) printf("%d\n", rand());
  }
  return 0;
}
