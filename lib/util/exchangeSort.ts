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
  // A full sort of distinct keys is an ordinary sort (pass a leaves the largest, or smallest,
  // of places a.. at place a); only ties need the replay. Cold, the replay's n²/2 steps cost
  // ~2 ms for n = 128 (the interpreter, then a synchronous optimising compile).
  if (limit >= n - 1 && n > 8) {
    const sorted = sortedIfDistinct(arr, key, swapWhen);
    if (sorted) {
      for (let i = 0; i < n; i++) arr[i] = sorted[i]!;
      return arr;
    }
  }
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

/**
 * `keys` sorted ascending (a copy) when they are pairwise distinct and none is NaN, else
 * `undefined` (two equal keys, -0 and +0 included, or a NaN). Then every exchange sort of
 * them, and any sort, puts them in this order. Built-in methods only: a reproduce calls this
 * a dozen times, cold, and JavaScript loops over every key would make V8 compile it with
 * TurboFan (~10 ms of a core, which the process then waits for at exit).
 */
export function distinctSorted(keys: Float64Array): Float64Array | undefined {
  if (keys.includes(NaN) || new Set(keys).size !== keys.length) return undefined;
  return keys.slice().sort(); // numeric, -0 before +0
}

/**
 * `arr` ordered by `key[arr[i]]`, largest first (`'greater'`) or smallest first (`'less'`),
 * when those keys are distinct and not NaN ({@link distinctSorted}); else `undefined`.
 */
export function sortedIfDistinct(arr: readonly number[], key: ArrayLike<number>, order: 'greater' | 'less'): number[] | undefined {
  const n = arr.length;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = key[arr[i]!]!;
  const sorted = distinctSorted(keys);
  if (!sorted) return undefined;
  const at = new Map<number, number>();
  for (let i = 0; i < n; i++) at.set(keys[i]!, arr[i]!);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = at.get(sorted[order === 'less' ? i : n - 1 - i]!)!;
  return out;
}

/** [0, 1, ..., n-1] */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
