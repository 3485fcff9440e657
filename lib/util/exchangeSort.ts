/**
 * The originals' hand-written exchange sort (00-common §6): for a = 0 .. limit-1, for
 * b = a+1 .. N-1, swap arr[a] and arr[b] when `better(arr[b], arr[a])`. Not stable; with
 * limit < N-1 it is a partial top-`limit` sort that leaves the tail scrambled. Replayed
 * literally because printed index orders depend on its tie behaviour.
 */
export function exchangeSort<T>(arr: T[], better: (b: T, a: T) => boolean, limit = arr.length - 1): T[] {
  const n = arr.length;
  for (let a = 0; a < limit && a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const x = arr[b]!;
      const y = arr[a]!;
      if (better(x, y)) {
        arr[a] = x;
        arr[b] = y;
      }
    }
  }
  return arr;
}

/** [0, 1, ..., n-1] */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
