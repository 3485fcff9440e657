// The primitives on whole in-memory arrays, for callers that want the arrays themselves
// (tests, notebooks, custom experiments): the states of a forward pass, and the readout of
// given states. Both are one engine chunk; for texts of any length use evaluate(), which
// streams.
import { SatrnnError } from '../errors.js';
import type { Model } from '../model.js';
import type { Backend, ReadoutMethod, RunOptions } from './types.js';

/** Options of {@link forwardStates}. */
export interface ForwardOptions extends RunOptions {
  /** The state before the first byte (default all +0.0). */
  h0?: Float32Array;
  /** Also return the pre-activations z. */
  pre?: boolean;
}

/**
 * The exact forward pass over `bytes` (00-common §3), every byte fed (T = bytes.length
 * steps), as one engine chunk.
 *
 * @throws SatrnnError `BAD_OPTION` when `h0` does not have H values
 */
export async function forwardStates(
  backend: Backend,
  model: Model,
  bytes: Uint8Array,
  opts: ForwardOptions = {},
): Promise<{
  /** `[T*H]`: `states[t*H + i]` is unit i after feeding `bytes[t]`. */
  states: Float32Array;
  /** `[T*H]`: the pre-activations z (before tanh), with `opts.pre`. */
  pre?: Float32Array;
}> {
  const H = model.hidden;
  const state = new Float32Array(H);
  if (opts.h0) {
    if (opts.h0.length !== H) throw new SatrnnError('BAD_OPTION', `h0 has length ${opts.h0.length}, expected ${H}`);
    state.set(opts.h0);
  }
  const T = bytes.length;
  const statesOut = new Float32Array(T * H);
  const preOut = opts.pre ? new Float32Array(T * H) : undefined;
  await backend.runChunk(
    { hidden: H, bytes, pos0: 0, steps: T, method: 'certified', groups: [{ weights: model.weights, state, statesOut, ...(preOut ? { preOut } : {}) }] },
    opts,
  );
  return { states: statesOut, ...(preOut ? { pre: preOut } : {}) };
}

/** What {@link readoutStates} reads out. */
export interface ReadoutRequest {
  /** The model whose Wy and by the readout uses. */
  model: Model;
  /** The states read out, `[T*H]` (row t: `states[t*H .. t*H + H-1]`). */
  states: Float32Array;
  /** The T target bytes: `targets[t]` is the byte predicted from states row t. */
  targets: Uint8Array;
  /** The readout variants: {@link USE} codes `[V*H]` (`use[v*H + j]`), V >= 1. */
  use: Uint8Array;
  /** How the logits are summed (default 'certified'; both give identical bits). */
  method?: ReadoutMethod;
  /** Also return the bits of every prediction, `[V*T]`. */
  bits?: boolean;
}

/** What {@link readoutStates} returns. */
export interface ReadoutResult {
  /** Mean bits per prediction of each variant, `[V]` (summed in t order, divided by T). */
  mean: Float64Array;
  /** The bits of every prediction `[V*T]` (`bits[v*T + t]`), when requested. */
  bits?: Float64Array;
  /** The method actually used ('certified' falls back to 'ordered' for states with |h| > 1). */
  method: ReadoutMethod;
  /** Logits the certificate did not cover, re-summed in order. */
  fallbacks: number;
}

/**
 * Exact readout (00-common §4-5) of given states for a batch of variants, as one engine chunk.
 *
 * @throws SatrnnError `BAD_OPTION` for empty targets or a `use` length that is not a positive multiple of H
 */
export async function readoutStates(backend: Backend, req: ReadoutRequest, opts: RunOptions = {}): Promise<ReadoutResult> {
  const H = req.model.hidden;
  const T = req.targets.length;
  if (T < 1) throw new SatrnnError('BAD_OPTION', 'readout: targets must not be empty');
  if (req.use.length % H !== 0 || req.use.length === 0) throw new SatrnnError('BAD_OPTION', `readout: use length ${req.use.length} is not a positive multiple of H=${H}`);
  const V = req.use.length / H;
  // The chunk's targets are bytes[1..T]; byte 0 is an input no group reads here.
  const bytes = new Uint8Array(T + 1);
  bytes.set(req.targets, 1);
  const totals = new Float64Array(V);
  const bitsOut = req.bits ? new Float64Array(V * T) : undefined;
  const method = req.method ?? 'certified';
  const r = await backend.runChunk(
    { hidden: H, bytes, pos0: 0, steps: T, method, groups: [{ weights: req.model.weights, states: req.states, use: req.use, totals, ...(bitsOut ? { bitsOut } : {}) }] },
    opts,
  );
  return { mean: totals.map((s) => s / T), ...(bitsOut ? { bits: bitsOut } : {}), method: r.certified ? method : 'ordered', fallbacks: r.fallbacks };
}
