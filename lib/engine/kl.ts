// KL divergence between two probability rows, as q2_offsets computes it: bits, base
// distribution first, cells skipped unless both probabilities exceed 1e-30, glibc log2.
import { log2 } from '../math/float64.js';

const FLOOR = 1e-30;

/**
 * KL(pb || pa) in bits over one 256-entry row of each, summed in order over the cells where
 * both probabilities exceed 1e-30.
 *
 * @param pb - the base distribution's row starts at `offB`
 * @param pa - the other distribution's row starts at `offA`
 * @param n - row length (default 256)
 */
export function klBits(pb: Float64Array, pa: Float64Array, offB = 0, offA = 0, n = 256): number {
  let k = 0.0;
  for (let o = 0; o < n; o++) {
    const b = pb[offB + o]!;
    const a = pa[offA + o]!;
    if (b > FLOOR && a > FLOOR) k = k + b * log2(b / a);
  }
  return k;
}
