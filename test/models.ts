import { Model, paramCount, VOCAB } from '../lib/model.js';
import { rng } from './helpers.js';

/**
 * A random model whose dynamics neither die nor saturate completely: a mix of strong and
 * weak units, some exact zeros, a few subnormal weights (denormals must be honoured).
 */
export function randomModel(hidden: number, seed: number): Model {
  const r = rng(seed);
  const H = hidden;
  const w = new Float32Array(paramCount(H));
  const u = (a: number): number => (2 * r() - 1) * a;
  let o = 0;
  for (let i = 0; i < H * VOCAB; i++) w[o++] = u(1.5);
  const scale = 2.5 / Math.sqrt(H);
  for (let i = 0; i < H * H; i++) w[o++] = r() < 0.05 ? 0 : u(scale);
  for (let i = 0; i < H; i++) w[o++] = u(0.3);
  for (let i = 0; i < VOCAB * H; i++) w[o++] = u(2);
  for (let i = 0; i < VOCAB; i++) w[o++] = u(1);
  for (let k = 0; k < 8; k++) w[Math.floor(r() * w.length)] = (r() < 0.5 ? -1 : 1) * 1e-40;
  return new Model(w, H, `random(H=${H}, seed=${seed})`);
}

/** Random bytes with a skew towards a small alphabet, like text. */
export function randomText(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r() < 0.8 ? 97 + Math.floor(r() * 8) : Math.floor(r() * 256);
  return out;
}
