// Property tests (fast-check): whatever comes in, the API returns a result or a typed error,
// never crashes; batched results equal one-at-a-time results.
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../lib/engine/index.js';
import { checkData } from '../../lib/data.js';
import { SatrnnError } from '../../lib/errors.js';
import { Analysis, type ReadoutVariant } from '../../lib/analysis.js';
import { paramCount, parseModel } from '../../lib/model.js';
import { addon } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

function typedOrResult(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SatrnnError)) throw err;
  }
}

describe('property: parsing never crashes', () => {
  const valid = randomModel(3, 1).toBytes();
  it('arbitrary bytes as a model', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8000 }), (bytes) => typedOrResult(() => parseModel(bytes))),
      { numRuns: 300 },
    );
  });
  it('truncated, extended and bit-flipped valid models', () => {
    fc.assert(
      fc.property(fc.nat(valid.length), fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }), fc.uint8Array({ maxLength: 16 }), (cut, flips, extra) => {
        const b = new Uint8Array([...valid.subarray(0, cut), ...extra]);
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        typedOrResult(() => parseModel(b));
        typedOrResult(() => parseModel(b, 'x', { hidden: 3 }));
        typedOrResult(() => parseModel(b, 'x', { hidden: 3, allowTrailing: true }));
      }),
      { numRuns: 300 },
    );
    expect(parseModel(valid).hidden).toBe(3);
    expect(paramCount(3) * 4).toBe(valid.length);
  });
  it('arbitrary data', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 50 }), fc.integer({ min: -5, max: 60 }), (d, max) => typedOrResult(() => checkData(d, 'x', { maxBytes: max }))), {
      numRuns: 200,
    });
  });
});

const H = 6;
const model = randomModel(H, 9);
const data = randomText(120, 4);
const variantArb: fc.Arbitrary<ReadoutVariant> = fc.record(
  {
    knockout: fc.array(fc.integer({ min: -1, max: H }), { maxLength: H }),
    keepOnly: fc.array(fc.integer({ min: 0, max: H - 1 }), { maxLength: H }),
    signSnap: fc.array(fc.integer({ min: 0, max: H }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const backends = [
  ...(addon ? [selectBackend({ name: 'native', isa: 'scalar', threads: 2 })] : []),
  ...(addon?.info().avx2 ? [selectBackend({ name: 'native', isa: 'avx2', threads: 2 })] : []),
  selectBackend({ name: 'js', threads: 1 }),
];

describe('property: random variant batches', () => {
  for (const be of backends) {
    it(`${be.name}/${be.isa}: a result or a typed error; batched equals one at a time`, async () => {
      const an = new Analysis({ model, data, backend: be });
      await fc.assert(
        fc.asyncProperty(fc.array(variantArb, { minLength: 1, maxLength: 12 }), async (variants) => {
          let batched: Float64Array;
          try {
            batched = await an.meanBpc(variants);
          } catch (err) {
            expect(err).toBeInstanceOf(SatrnnError);
            expect((err as SatrnnError).code).toBe('BAD_OPTION');
            return;
          }
          expect(batched.length).toBe(variants.length);
          for (let i = 0; i < variants.length; i++) {
            const single = await an.meanBpc([variants[i]!]);
            expect(Object.is(single[0], batched[i])).toBe(true);
          }
        }),
        { numRuns: 40 },
      );
    }, 120_000);
  }
});

describe.skipIf(!addon)('property: the addon rejects garbage arguments with JS errors', () => {
  const values = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.constant(new Float32Array(3)),
    fc.constant(new Float64Array(3)),
    fc.constant(new Uint8Array(5)),
    fc.constant(new Int32Array(1)),
    fc.constant(new Uint32Array(2)),
    fc.constant({}),
  );
  it('engine run with random option and group objects', async () => {
    const keys = fc.constantFrom('weights', 'hidden', 'bytes', 'state', 'states', 'mode', 'value', 'substPos', 'substByte', 'patchPos', 'patchNeurons', 'patchValues', 'use', 'totals', 'bitsOut', 'statesOut', 'isa', 'steps', 'pos0', 'threads', 'method', 'cancel');
    await fc.assert(
      fc.asyncProperty(fc.dictionary(keys, values), fc.array(fc.dictionary(keys, values), { maxLength: 2 }), async (o, groups) => {
        try {
          await addon!.run({ ...o, groups } as never);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/satrnn native:/);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// Every binding of the addon with random arguments: valid calls mutated key by key (random
// types, wrong typed array kinds and lengths, negative, huge, fractional and NaN numbers,
// missing fields, detached, shrunk and shared buffers), and arrays detached (then a GC)
// while the job runs. Each call returns, throws a TypeError/RangeError, or its promise
// settles (rejecting with an Error): never a crash, never a sanitizer report (.ci/run runs
// this file against the ASan + UBSan build).
describe.skipIf(!addon)('property: every addon binding survives random arguments', () => {
  const a = addon!;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
  type AnyTyped = Exclude<ArrayBufferView, DataView>;
  const KINDS = [Float32Array, Float64Array, Uint8Array, Int32Array, Uint32Array, Uint8ClampedArray, Int16Array, BigInt64Array] as const;
  const MEMS = ['plain', 'shared', 'detached', 'shrunk', 'offset'] as const;
  type Mem = (typeof MEMS)[number];
  /** How to replace a value: a primitive or object, a typed array (by kind, length, memory), or no value at all. */
  type Spec = { t: 'value'; v: unknown } | { t: 'array'; kind: number; len: 'same' | 'plus' | 'minus' | number; mem: Mem } | { t: 'delete' };
  const specArb: fc.Arbitrary<Spec> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.nat(KINDS.length - 1), len: fc.oneof(fc.constantFrom('same' as const, 'plus' as const, 'minus' as const), fc.nat(12)), mem: fc.constantFrom(...MEMS) }).map((s) => ({ t: 'array' as const, ...s })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(undefined, null, true, 0, -1, 0.5, 2 ** 31, 2 ** 40, 2 ** 53, 2 ** 64, -(2 ** 53), NaN, Infinity, -Infinity, -0, 'x', '3', 1n),
          fc.integer(),
          fc.double(),
          fc.string({ maxLength: 4 }),
          fc.constant({}),
          fc.constant([]),
          fc.constant(() => 1),
        )
        .map((v) => ({ t: 'value' as const, v })),
    },
    { weight: 1, arbitrary: fc.constant({ t: 'delete' as const }) },
  );

  function makeArray(kind: number, len: number, mem: Mem): AnyTyped {
    const Ctor = KINDS[kind]! as unknown as { new (b: ArrayBufferLike, o?: number, n?: number): AnyTyped; BYTES_PER_ELEMENT: number };
    const bpe = Ctor.BYTES_PER_ELEMENT;
    if (mem === 'shared') return new Ctor(new SharedArrayBuffer(len * bpe));
    if (mem === 'offset') return new Ctor(new ArrayBuffer((len + 2) * bpe), 2 * bpe, len);
    if (mem === 'shrunk') {
      const buf = new ArrayBuffer(len * bpe, { maxByteLength: len * bpe } as never);
      const arr = new Ctor(buf, 0, len);
      (buf as unknown as { resize(n: number): void }).resize(0);
      return arr;
    }
    const arr = new Ctor(new ArrayBuffer(len * bpe));
    if (mem === 'detached') structuredClone(arr.buffer, { transfer: [arr.buffer as ArrayBuffer] });
    return arr;
  }
  function apply(o: Record<string, unknown>, key: string, s: Spec): void {
    if (s.t === 'delete') delete o[key];
    else if (s.t === 'value') o[key] = s.v;
    else {
      const cur = o[key];
      const n = ArrayBuffer.isView(cur) ? (cur as AnyTyped).length : 3;
      const len = s.len === 'same' ? n : s.len === 'plus' ? n + 1 : s.len === 'minus' ? Math.max(0, n - 1) : s.len;
      // 'same' keeps the kind of a typed array, so a mutation is often just a different memory.
      const kind = s.len === 'same' && ArrayBuffer.isView(cur) ? Math.max(0, KINDS.findIndex((K) => cur instanceof K)) : s.kind;
      o[key] = makeArray(kind, len, s.mem);
    }
  }
  /** Every typed array of an argument tree. */
  function arraysOf(v: unknown, out: AnyTyped[] = [], depth = 0): AnyTyped[] {
    if (ArrayBuffer.isView(v)) out.push(v as AnyTyped);
    else if (v && typeof v === 'object' && depth < 3) for (const x of Object.values(v)) arraysOf(x, out, depth + 1);
    return out;
  }
  /** Detaches the chosen arrays (plain ArrayBuffers only) and collects the garbage. */
  function detachSome(arrays: AnyTyped[], pick: number[]): void {
    for (const i of pick) {
      const arr = arrays[i % Math.max(1, arrays.length)];
      if (arr && arr.buffer instanceof ArrayBuffer && arr.buffer.byteLength > 0) structuredClone(arr.buffer, { transfer: [arr.buffer] });
    }
    if (pick.length > 0) gc({ type: 'minor' });
  }
  const isTypedError = (e: unknown): boolean => (e instanceof TypeError || e instanceof RangeError) && /^satrnn native: /.test(e.message);
  /** Calls fn: a value, a typed synchronous error, or a promise that settles with a value or an Error. */
  async function call(fn: () => unknown, detach: () => void): Promise<'ok' | 'threw' | 'rejected'> {
    let r: unknown;
    try {
      r = fn();
    } catch (e) {
      expect(isTypedError(e), `synchronous ${String(e)}`).toBe(true);
      return 'threw';
    }
    detach();
    if (!(r instanceof Promise)) return 'ok';
    try {
      await r;
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toMatch(/^satrnn native: |^aborted$/);
      return 'rejected';
    }
  }

  const RUN_KEYS = ['hidden', 'isa', 'method', 'threads', 'steps', 'pos0', 'bytes', 'groups', 'cancel'];
  const GROUP_KEYS = ['weights', 'states', 'state', 'stepsBefore', 'mode', 'value', 'substPos', 'substByte', 'patchPos', 'patchNeurons', 'patchValues', 'stats', 'from', 'prefix', 'statesOut', 'preOut', 'use', 'totals', 'bitsOut', 'select', 'probsOut'];
  const STATS_KEYS = ['sum', 'sumAbs', 'sumAbsF32', 'minAbs', 'saturated', 'flips', 'lastSign'];
  const base = fc.record({ H: fc.integer({ min: 1, max: 3 }), T: fc.nat(6), kinds: fc.array(fc.nat(2), { minLength: 1, maxLength: 3 }), V: fc.nat(2) });

  /** A valid engine run request: groups with dynamics (all outputs), given states, or a start with a prefix. */
  function runRequest({ H, T, kinds, V }: { H: number; T: number; kinds: number[]; V: number }): Record<string, unknown> {
    const w = Float32Array.from({ length: paramCount(H) }, (_, i) => Math.sin(i));
    const readout = () => ({ use: new Uint8Array(V * H).fill(1), totals: new Float64Array(V), bitsOut: new Float64Array(V * T), select: new Uint8Array(T).fill(1), probsOut: new Float64Array(V * T * 256) });
    const groups = kinds.map((k) => {
      if (k === 1) return { weights: w.slice(), states: new Float32Array(T * H), ...readout() };
      const from = k === 2 ? T >> 1 : 0;
      const stats = { sum: new Float64Array(H), sumAbs: new Float64Array(H), sumAbsF32: new Float32Array(H), minAbs: new Float32Array(H).fill(2), saturated: new Uint32Array(H), flips: new Uint32Array(H), lastSign: new Uint8Array(H) };
      return {
        weights: w,
        state: new Float32Array(H),
        stepsBefore: 0,
        mode: new Uint8Array(H).fill(1),
        value: new Float32Array(H),
        substPos: Float64Array.of(1),
        substByte: Uint8Array.of(7),
        // Patches of the last neuron at positions 0 and 2 (K = 1: 'plus'/'minus' lengths break it).
        patchPos: Float64Array.of(0, 2),
        patchNeurons: Uint32Array.of(H - 1),
        patchValues: Float32Array.of(0.5, -3),
        stats,
        statesOut: new Float32Array(T * H),
        preOut: new Float32Array(T * H),
        ...(k === 2 ? { from, prefix: new Float32Array(from * H) } : {}),
        ...readout(),
      };
    });
    return { hidden: H, isa: 0, method: 1, threads: 2, steps: T, pos0: 0, bytes: new Uint8Array(T + 1), groups };
  }
  const mutation = (keys: string[]) => fc.tuple(fc.constantFrom(...keys), specArb);
  const detachPick = fc.array(fc.nat(64), { maxLength: 3 });

  it('run', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        base,
        fc.array(mutation(RUN_KEYS), { maxLength: 2 }),
        fc.array(fc.tuple(fc.nat(3), mutation(GROUP_KEYS)), { maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(3), mutation(STATS_KEYS)), { maxLength: 2 }),
        fc.constantFrom(undefined, () => {}, 7),
        detachPick,
        async (b, top, inGroups, inStats, cb, pick) => {
          const o = runRequest(b);
          for (const [k, s] of top) apply(o, k, s);
          const groups = Array.isArray(o.groups) ? (o.groups as Record<string, unknown>[]) : [];
          for (const [g, [k, s]] of inGroups) if (groups.length) apply(groups[g % groups.length]!, k, s);
          for (const [g, [k, s]] of inStats) {
            const st = groups.length ? groups[g % groups.length]!.stats : undefined;
            if (st && typeof st === 'object') apply(st as Record<string, unknown>, k, s);
          }
          const arrays = arraysOf(o);
          seen.add(await call(() => a.run(o as never, cb as never), () => detachSome(arrays, pick)));
        },
      ),
      { numRuns: 400 },
    );
    expect([...seen].sort()).toEqual(['ok', 'rejected', 'threw']);
  });

  const TRAIN_KEYS = ['weights', 'hidden', 'data', 'lr', 'lrPeak', 'bptt', 'clip', 'isa', 'threads', 'cancel', 'fast'];
  const workspaces = [a.createFastWorkspace(), a.createFastWorkspace()];
  const trainRequest = (H: number, n: number, fast: number) => ({
    weights: Float32Array.from({ length: paramCount(H) }, (_, i) => Math.sin(i) / 4),
    hidden: H,
    data: Uint8Array.from({ length: n }, (_, i) => 97 + (i % 5)),
    lr: Math.fround(0.01),
    lrPeak: Math.fround(0.01),
    bptt: 3,
    clip: 5,
    isa: 0,
    ...(fast < 2 && workspaces[fast] ? { fast: workspaces[fast], threads: 2 } : {}),
  });
  for (const fn of ['trainEpoch', 'evalBpc'] as const)
    it(fn, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.nat(40), fc.nat(3), fc.array(mutation(TRAIN_KEYS), { maxLength: 3 }), detachPick, fc.boolean(), async (H, n, fast, muts, pick, cancel) => {
          const o: Record<string, unknown> = trainRequest(H, n, fast);
          if (cancel) o.cancel = new Int32Array(new SharedArrayBuffer(4)).fill(1);
          for (const [k, s] of muts) apply(o, k, s);
          const arrays = arraysOf(o);
          // Two calls at once: the same workspace twice is a rejection, not a race.
          await Promise.all([call(() => a[fn](o as never), () => detachSome(arrays, pick)), call(() => a[fn]({ ...o } as never), () => {})]);
        }),
        { numRuns: 200 },
      );
    });

  it('mathF32, mathF64, checksumF32, info, createFastWorkspace', async () => {
    const names = ['tanhf', 'expm1f', 'expf', 'logf', 'cosf', 'exp', 'log2', 'log', 'exp4_avx2', 'exp_softmax_avx2', 'nope', ''];
    const arg = fc.oneof(fc.constantFrom(...names).map((v) => ({ t: 'value' as const, v }) as Spec), specArb);
    await fc.assert(
      fc.asyncProperty(fc.array(arg, { maxLength: 3 }), detachPick, async (specs, pick) => {
        const args: Record<string, unknown> = {};
        specs.forEach((s, i) => apply(args, String(i), s));
        const list = specs.map((_, i) => args[String(i)]);
        const arrays = arraysOf(list);
        await call(() => a.mathF32(...(list as [never, never])), () => {});
        await call(() => a.mathF64(...(list as [never, never])), () => {});
        // A known name starts the 2^32-input sweep (minutes): only unknown names here.
        if (!(typeof list[0] === 'string' && names.slice(0, 5).includes(list[0]))) await call(() => a.checksumF32(...(list as [never])), () => {});
        expect(typeof a.info()).toBe('object');
        await call(() => (a as unknown as { info(...x: unknown[]): unknown }).info(...list), () => {});
        await call(() => (a as unknown as { createFastWorkspace(...x: unknown[]): unknown }).createFastWorkspace(...list), () => detachSome(arrays, pick));
      }),
      { numRuns: 300 },
    );
  });
});
