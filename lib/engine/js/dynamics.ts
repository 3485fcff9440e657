// The dynamics primitive in TypeScript (native/kernels/dynamics.cc is its twin): one
// variant of the forward pass over a chunk, from a carried state, with interventions,
// input substitutions, activation patches and the trajectory statistics.
import { NEURON } from '../types.js';
import type { ChunkGroup } from '../types.js';
import { stepJs } from './step.js';

const fround = Math.fround;

/** One group's dynamics over a chunk: the group's own fields (lib/engine/types.ts) plus where it runs. */
export type DynamicsChunk = Pick<ChunkGroup, 'weights' | 'stepsBefore' | 'mode' | 'value' | 'substPos' | 'substByte' | 'patchPos' | 'patchNeurons' | 'patchValues' | 'stats' | 'preOut'> & {
  hidden: number;
  /** Input bytes of the chunk (at least `steps`), the first at absolute position pos0. */
  bytes: Uint8Array;
  pos0: number;
  steps: number;
  /** [H] in/out. */
  state: Float32Array;
  /** [steps*H] out. */
  states: Float32Array;
};

/**
 * Runs the chunk. (It is not interrupted: in-process chunks are small, and a chunk on a
 * worker thread is cancelled by terminating the worker.)
 */
export function runDynamicsJs(c: DynamicsChunk): void {
  const H = c.hidden;
  const { states, mode, value, stats, substPos, substByte, patchPos, patchNeurons, patchValues } = c;
  let prev: Float32Array = new Float32Array(c.state);
  let prevOff = 0;
  let s = 0;
  const ns = substPos?.length ?? 0;
  while (s < ns && substPos![s]! < c.pos0) s++;
  let p = 0;
  const np = patchPos?.length ?? 0;
  const K = patchNeurons?.length ?? 0;
  while (p < np && patchPos![p]! < c.pos0) p++;
  const before = c.stepsBefore ?? 0;
  for (let t = 0; t < c.steps; t++) {
    let x = c.bytes[t]!;
    if (s < ns && substPos![s] === c.pos0 + t) x = substByte![s++]!;
    const o = t * H;
    stepJs(c.weights, H, prev, prevOff, x, states, o, c.preOut, o);
    if (mode)
      for (let j = 0; j < H; j++) {
        if (mode[j] === NEURON.clamp) states[o + j] = value![j]!;
        else if (mode[j] === NEURON.sign) states[o + j] = states[o + j]! >= 0 ? 1 : -1;
      }
    if (p < np && patchPos![p] === c.pos0 + t) {
      for (let k = 0; k < K; k++) states[o + patchNeurons![k]!] = patchValues![p * K + k]!;
      p++;
    }
    if (stats) {
      const first = before + t === 0;
      for (let j = 0; j < H; j++) {
        const h = states[o + j]!;
        const a = Math.abs(h);
        stats.sum[j] = stats.sum[j]! + h;
        stats.sumAbs[j] = stats.sumAbs[j]! + a;
        stats.sumAbsF32[j] = fround(stats.sumAbsF32[j]! + a);
        if (a < stats.minAbs[j]!) stats.minAbs[j] = a;
        if (a >= SAT) stats.saturated[j] = stats.saturated[j]! + 1;
        const sg = h >= 0 ? 1 : 0;
        if (!first && sg !== stats.lastSign[j]) stats.flips[j] = stats.flips[j]! + 1;
        stats.lastSign[j] = sg;
      }
    }
    prev = states;
    prevOff = o;
  }
  if (c.steps > 0) c.state.set(states.subarray((c.steps - 1) * H, c.steps * H));
}

/** q4_saturation's threshold, the float constant 0.999f (compared with float |h|). */
const SAT = fround(0.999);
