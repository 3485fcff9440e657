// Neuron roles (spec/neuron_roles.md): what each neuron is for. The readout knockout sees
// only what a neuron's own Wy column contributes; zeroing its Wh column (what it sends to
// the next step) shows what it contributes by steering the other neurons, and clamping it
// to 0 removes both. One pass: the readout knockouts and sign snaps read the base
// trajectory; the 2H recurrent and full knockouts each run their own dynamics.
import type { Analysis, Variant } from '../../analysis.js';
import { SatrnnError, describeValue } from '../../errors.js';
import { range } from '../../util/exchangeSort.js';
import { batch, fuse, runBatch, type Batch } from '../batch.js';
import { DynamicsKnockout, ReadoutKnockout, checkExperimentOptions, type ExperimentRunOptions } from '../q3_neurons/experiment.js';

/** What a neuron is for, from its readout and recurrent knockouts against `tau` (see {@link roleOf}). */
export type NeuronRole = 'hub' | 'readout' | 'router' | 'noise' | 'inert';

/** Every role, in the order counts and texts list them. */
export const NEURON_ROLES: readonly NeuronRole[] = ['hub', 'readout', 'router', 'noise', 'inert'];

/** Role threshold in bpc when none is given. */
export const DEFAULT_ROLE_TAU = 0.005;
/** Neurons a text report lists when no `top` is given. */
export const DEFAULT_ROLE_TOP = 30;

/** One neuron's knockouts and role. */
export interface NeuronRoleRow {
  /** Neuron index j, 0..H−1. */
  readonly neuron: number;
  /** bpc − baselineBpc with column j of Wy zeroed (dynamics unchanged); bit for bit the readout knockout's deltaBpc. */
  readonly deltaReadout: number;
  /** bpc − baselineBpc with column j of Wh zeroed (what j sends to the next step; j is still computed and read out). */
  readonly deltaRecurrent: number;
  /** bpc − baselineBpc with h_j clamped to 0 after every step (before the readout and the next step). */
  readonly deltaFull: number;
  /** deltaFull − (deltaReadout + deltaRecurrent): what the two separate knockouts do not add up to. */
  readonly interaction: number;
  /** The role from deltaReadout and deltaRecurrent against tau (see {@link roleOf}). */
  readonly role: NeuronRole;
  /** Fraction of the predictions' steps with |h_j| >= 0.999f in the intact run (q4_saturation's test). */
  readonly saturation: number;
  /** Reading h_j as sgn(h_j) in the readout (dynamics unchanged) moves bpc by more than tau: |Δsign| > tau. */
  readonly needsMantissa: boolean;
}

/** Result of {@link NeuronRoles}. */
export interface NeuronRolesResult {
  /** Hidden units H. */
  readonly hidden: number;
  /** Predictions evaluated (text length − 1). */
  readonly predictions: number;
  /** Mean bpc of the intact model. */
  readonly baselineBpc: number;
  /** The role threshold used, in bpc. */
  readonly tau: number;
  /** One entry per neuron, in index order: `neurons[j].neuron === j`. */
  readonly neurons: readonly NeuronRoleRow[];
  /** How many neurons have each role. */
  readonly counts: Readonly<Record<NeuronRole, number>>;
  /** Neuron indices by deltaFull, largest first; ties: lower index first. */
  readonly ranking: readonly number[];
}

/** Options of {@link NeuronRoles}. */
export interface NeuronRolesOptions {
  /** Role threshold in bpc (finite, >= 0; default 0.005). */
  readonly tau?: number;
  /** Neurons a text report lists, by deltaFull (integer >= 1; default 30). The result always holds every neuron. */
  readonly top?: number;
}

/**
 * The role of a neuron whose readout knockout costs r bpc and whose recurrent knockout
 * costs c: hub (r ≥ tau and c ≥ tau), readout (only r ≥ tau), router (only c ≥ tau),
 * noise (neither ≥ tau, and removing it helps: r ≤ −tau or c ≤ −tau), else inert.
 */
export function roleOf(r: number, c: number, tau: number): NeuronRole {
  const reads = r >= tau;
  const routes = c >= tau;
  if (reads && routes) return 'hub';
  if (reads) return 'readout';
  if (routes) return 'router';
  return r <= -tau || c <= -tau ? 'noise' : 'inert';
}

/** Per neuron j: the readout knockout, the Wh-column knockout, the clamp to 0 and the sign-only snap; roles from them. */
export class NeuronRoles {
  /** The role threshold in bpc. */
  readonly tau: number;
  /** Neurons a text report lists. */
  readonly top: number;

  /** @throws SatrnnError `BAD_OPTION` for a tau that is not a finite number >= 0 or a top that is not an integer >= 1 */
  constructor(options: NeuronRolesOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new SatrnnError('BAD_OPTION', `NeuronRoles options must be an object { tau?, top? } (got ${describeValue(options)})`);
    const tau = options.tau ?? DEFAULT_ROLE_TAU;
    if (typeof tau !== 'number' || !Number.isFinite(tau) || tau < 0)
      throw new SatrnnError('BAD_OPTION', `tau must be a finite number of bpc >= 0, e.g. 0.005 (got ${describeValue(options.tau)})`);
    const top = options.top ?? DEFAULT_ROLE_TOP;
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 1)
      throw new SatrnnError('BAD_OPTION', `top must be an integer >= 1 (rows of the text report, e.g. 30; got ${describeValue(options.top)})`);
    this.tau = tau;
    this.top = top;
  }

  /**
   * The baseline (unless given) and 4·H variants, as a fusable batch: H readout knockouts
   * and H sign snaps on the base trajectory, H clamps and H Wh-column knockouts with
   * dynamics of their own.
   */
  batch(hidden: number, baselineBpc?: number): Batch<NeuronRolesResult> {
    const H = hidden;
    const tau = this.tau;
    // The q3 readout knockout's and the dynamics knockout's own batches (each with its
    // baseline variant unless given: the same readout of the same run, so the same bits), so
    // deltaReadout and deltaFull are their deltaBpc by construction.
    const readout = new ReadoutKnockout().batch(H, baselineBpc);
    const full = new DynamicsKnockout({ mode: 'zero' }).batch(H, baselineBpc);
    const others: Variant[] = [...range(H).map((j) => ({ signSnap: [j] })), ...range(H).map((j) => ({ edits: [{ whColumn: j }] }))];
    const parts = fuse(readout, full, batch(others, (mean) => mean.slice()));
    return batch(parts.variants, async (mean, an) => {
      const [ko, dyn, m] = await parts.assemble(mean, an);
      const B = ko.baselineBpc;
      const stats = await an.trajectoryStats();
      const steps = ko.predictions;
      const neurons = range(H).map((j): NeuronRoleRow => {
        const deltaReadout = ko.neurons[j]!.deltaBpc;
        const deltaFull = dyn.neurons[j]!.deltaBpc;
        const deltaSign = m[j]! - B;
        const deltaRecurrent = m[H + j]! - B;
        return {
          neuron: j,
          deltaReadout,
          deltaRecurrent,
          deltaFull,
          interaction: deltaFull - (deltaReadout + deltaRecurrent),
          role: roleOf(deltaReadout, deltaRecurrent, tau),
          saturation: stats.saturated[j]! / steps,
          needsMantissa: Math.abs(deltaSign) > tau,
        };
      });
      const counts = Object.fromEntries(NEURON_ROLES.map((r) => [r, 0])) as Record<NeuronRole, number>;
      for (const n of neurons) counts[n.role]++;
      // Array.prototype.sort is stable: equal deltaFull keep index order.
      const ranking = range(H).sort((a, b) => neurons[b]!.deltaFull - neurons[a]!.deltaFull);
      return { hidden: H, predictions: steps, baselineBpc: B, tau, neurons, counts, ranking };
    });
  }

  /** Evaluates the batch on `an` in one pass (progress in variants through `opts.onProgress`; `opts.signal` cancels). */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<NeuronRolesResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}
