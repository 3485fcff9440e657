// THE exact forward step in TypeScript (00-common §3), used by the dynamics kernel and the
// exact trainer (native/core/step.h is its twin): z = fround(bh[i] + Wx[i][x]), then
// z = fround(z + fround(Wh[i][j] * h[j])) for j in order, h'[i] = glibc tanhf(z). A double
// product or sum of two floats rounded once with Math.fround equals the binary32 result.
import { tanhf } from '../../math/float32.js';
import { VOCAB, layout } from '../layout.js';

const fround = Math.fround;

/**
 * out[oOut + i] = F(h[hOff ..], x)[i] with the weights `w` of a model with H units; `pre`
 * (optional) receives z at preOff. Four units at a time (four independent chains, each in
 * the spec's order).
 */
export function stepJs(
  w: Float32Array,
  H: number,
  h: Float32Array,
  hOff: number,
  x: number,
  out: Float32Array,
  oOut: number,
  pre?: Float32Array,
  preOff = 0,
): void {
  const { Wh: oWh, bh: obh } = layout(H);
  let i = 0;
  for (; i + 4 <= H; i += 4) {
    let z0 = fround(w[obh + i]! + w[i * VOCAB + x]!);
    let z1 = fround(w[obh + i + 1]! + w[(i + 1) * VOCAB + x]!);
    let z2 = fround(w[obh + i + 2]! + w[(i + 2) * VOCAB + x]!);
    let z3 = fround(w[obh + i + 3]! + w[(i + 3) * VOCAB + x]!);
    const r0 = oWh + i * H;
    const r1 = r0 + H;
    const r2 = r1 + H;
    const r3 = r2 + H;
    for (let j = 0; j < H; j++) {
      const hj = h[hOff + j]!;
      z0 = fround(z0 + fround(w[r0 + j]! * hj));
      z1 = fround(z1 + fround(w[r1 + j]! * hj));
      z2 = fround(z2 + fround(w[r2 + j]! * hj));
      z3 = fround(z3 + fround(w[r3 + j]! * hj));
    }
    if (pre) {
      pre[preOff + i] = z0;
      pre[preOff + i + 1] = z1;
      pre[preOff + i + 2] = z2;
      pre[preOff + i + 3] = z3;
    }
    out[oOut + i] = tanhf(z0);
    out[oOut + i + 1] = tanhf(z1);
    out[oOut + i + 2] = tanhf(z2);
    out[oOut + i + 3] = tanhf(z3);
  }
  for (; i < H; i++) {
    let z = fround(w[obh + i]! + w[i * VOCAB + x]!);
    const r = oWh + i * H;
    for (let j = 0; j < H; j++) z = fround(z + fround(w[r + j]! * h[hOff + j]!));
    if (pre) pre[preOff + i] = z;
    out[oOut + i] = tanhf(z);
  }
}
