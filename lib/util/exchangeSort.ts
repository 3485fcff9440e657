/**
 * The originals' hand-written exchange sort (00-common §6) of a list of indices by a numeric
 * key: for a = 0 .. limit-1, for b = a+1 .. N-1, swap arr[a] and arr[b] when
 * key[arr[b]] > key[arr[a]] (`'greater'`: largest first) or < (`'less'`: smallest first).
 * Not stable; with limit < N-1 it is a partial top-`limit` sort that leaves the tail
 * scrambled. Replayed literally because printed index orders depend on its tie behaviour.
 * (Keys and a comparison per direction rather than a callback: a reproduce runs this code
 * once, cold, where a call per comparison costs ~5x the comparison itself.)
 */
export function exchangeSort(arr: number[], key: ArrayLike<number>, swapWhen: 'greater' | 'less', limit = arr.length - 1): number[] {
  const n = arr.length;
  const greater = swapWhen === 'greater';
  for (let a = 0; a < limit && a < n; a++) {
    let y = arr[a]!;
    let ky = key[y]!;
    for (let b = a + 1; b < n; b++) {
      const x = arr[b]!;
      const kx = key[x]!;
      if (greater ? kx > ky : kx < ky) {
        arr[a] = x;
        arr[b] = y;
        y = x;
        ky = kx;
      }
    }
  }
  return arr;
}

/** [0, 1, ..., n-1] */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
