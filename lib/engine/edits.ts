// Weight edits of a dynamics variant, applied to a copy of the weights before the
// dynamics run (q5_redux's pruning rules): entries of Wh or Wx zeroed where a mask says so
// or where |w| < threshold (a strict comparison of float magnitudes, the threshold rounded
// to float32 first), and columns of Wh zeroed. "Zero" stores +0.0.
import { SatrnnError } from '../errors.js';
import type { Model } from '../model.js';
import { VOCAB, layout } from './layout.js';

/**
 * One weight edit: zero the entries of Wh or Wx below a magnitude threshold, or those a
 * mask drops, or one column of Wh.
 */
export type WeightEdit =
  /** Zero every entry of the matrix with |w| < threshold (strict; entries already 0 count as zeroed when threshold > 0). */
  | {
      /** The matrix edited. */
      matrix: 'Wh' | 'Wx';
      /** A finite magnitude >= 0, rounded to float32 before the comparison. */
      threshold: number;
    }
  /** Zero the entries whose mask byte is 0 (mask: the matrix's shape, row-major). */
  | {
      /** The matrix edited. */
      matrix: 'Wh' | 'Wx';
      /** One byte per entry (`H*H` for Wh, `H*256` for Wx), row-major: 0 zeroes the entry, anything else keeps it. */
      keep: Uint8Array;
    }
  /** Zero column j of Wh: what neuron j sends to every neuron at the next step. */
  | {
      /** The column j, 0 .. H-1. */
      whColumn: number;
    };

/** The result of {@link applyEdits}. */
export interface EditedWeights {
  /** A new copy of the model's weights (file layout) with the edits applied. */
  weights: Float32Array;
  /** Entries each edit zeroed, counted as q5_redux counts them (per edit, in order). */
  zeroed: number[];
}

// Threshold edits run block by block through a small function: one loop over a whole
// matrix, run ~26 times in a q5_redux, got a synchronous optimising (on-stack replacement)
// compile of ~10 ms; short calls of a small function compile in the background instead.
const EDIT_BLOCK = 1024;
function zeroBelow(w: Float32Array, from: number, to: number, thr: number): number {
  let z = 0;
  for (let i = from; i < to; i++)
    if (Math.abs(w[i]!) < thr) {
      w[i] = 0;
      z++;
    }
  return z;
}

/**
 * A copy of the model's weights with the edits applied in order (the model is not changed).
 *
 * @throws SatrnnError `BAD_OPTION` for an edit out of range or malformed
 */
export function applyEdits(model: Model, edits: readonly WeightEdit[]): EditedWeights {
  const H = model.hidden;
  const l = layout(H);
  const w = new Float32Array(model.weights);
  const zeroed: number[] = [];
  for (const e of edits) {
    let z = 0;
    if ('whColumn' in e) {
      const j = e.whColumn;
      if (!Number.isInteger(j) || j < 0 || j >= H) throw new SatrnnError('BAD_OPTION', `whColumn ${j} is out of range 0..${H - 1}`);
      for (let i = 0; i < H; i++) {
        w[l.Wh + i * H + j] = 0;
        z++;
      }
    } else {
      const [off, len] = e.matrix === 'Wh' ? [l.Wh, H * H] : e.matrix === 'Wx' ? [l.Wx, H * VOCAB] : [-1, 0];
      if (off < 0) throw new SatrnnError('BAD_OPTION', `edit matrix must be 'Wh' or 'Wx' (got '${String((e as { matrix: unknown }).matrix)}')`);
      if ('threshold' in e) {
        const thr = Math.fround(e.threshold);
        if (!(thr >= 0) || !Number.isFinite(thr)) throw new SatrnnError('BAD_OPTION', `threshold must be a finite number >= 0 (got ${e.threshold})`);
        for (let b = off; b < off + len; b += EDIT_BLOCK) z += zeroBelow(w, b, Math.min(b + EDIT_BLOCK, off + len), thr);
      } else {
        if (!(e.keep instanceof Uint8Array) || e.keep.length !== len)
          throw new SatrnnError('BAD_OPTION', `${e.matrix} keep mask must be a Uint8Array of ${len} entries`);
        for (let i = 0; i < len; i++)
          if (e.keep[i] === 0) {
            w[off + i] = 0;
            z++;
          }
      }
    }
    zeroed.push(z);
  }
  return { weights: w, zeroed };
}
