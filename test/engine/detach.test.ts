// An async call owns what it reads and writes (native/napi/args.h "Memory of async jobs",
// lib/engine/js/owned.ts): while a chunk, a training epoch or an evaluation runs, JS may
// detach (transfer) or shrink any array it passed, and a GC then frees the detached memory.
// On every path, a call whose input was taken away completes with the undisturbed result;
// a call whose output (or in/out array) was taken away rejects with a clear BAD_OPTION and
// writes nothing back. Before the fix this crashed the process (exit 139) or, under the
// sanitizer build (.ci/run), made AddressSanitizer report heap-use-after-free.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { JsBackend, selectBackend } from '../../lib/engine/index.js';
import type { Backend, ChunkGroup, ChunkRequest } from '../../lib/engine/types.js';
import { SatrnnError } from '../../lib/errors.js';
import { paramCount } from '../../lib/model.js';
import { addon, hasAvx2 } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

v8.setFlagsFromString('--expose-gc');
// A scavenge frees a dropped transfer clone's memory (it is young) and costs ~1 ms.
const fullGc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
const gc = (): void => fullGc({ type: 'minor' });

type Typed = Float32Array | Float64Array | Uint8Array | Uint32Array;

/** Takes the array's memory away as a transfer does (the clone is dropped: the next GC frees it). */
function detach(a: Typed): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

function bytesOf(a: Typed): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sameBytes(a: Typed, b: Typed): boolean {
  return Buffer.compare(bytesOf(a), bytesOf(b)) === 0;
}

/** Every array of a chunk request by name, and which of them the call writes. */
interface Chunk {
  req: ChunkRequest;
  arrays: Map<string, Typed>;
  inputs: string[];
  written: string[];
}

const H = 16;
const V = 3;

/**
 * Three groups over T positions: dynamics with interventions, activation patches,
 * statistics and every output;
 * given states with a position selection and probability rows; dynamics from T/2 on with
 * a prefix. Each array on its own ArrayBuffer (optionally a resizable one).
 */
function makeChunk(T: number, resizable = false): Chunk {
  const arrays = new Map<string, Typed>();
  const inputs: string[] = [];
  const written: string[] = [];
  const alloc = <A extends Typed>(name: string, Ctor: { new (b: ArrayBuffer, o: number, n: number): A; BYTES_PER_ELEMENT: number }, n: number, kind: 'in' | 'out', fill?: (i: number) => number): A => {
    const bytes = n * Ctor.BYTES_PER_ELEMENT;
    const buf = resizable ? new ArrayBuffer(bytes, { maxByteLength: bytes } as never) : new ArrayBuffer(bytes);
    const a = new Ctor(buf, 0, n);
    if (fill) for (let i = 0; i < n; i++) a[i] = fill(i);
    arrays.set(name, a);
    (kind === 'in' ? inputs : written).push(name);
    return a;
  };
  const model = randomModel(H, 5);
  const text = randomText(T + 1, 6);
  const P = paramCount(H);
  const use = (g: string, seed: number) => alloc(`${g}.use`, Uint8Array, V * H, 'in', (i) => (i < H ? 1 : (i * seed) % 4));
  const stats = (g: string) => ({
    sum: alloc(`${g}.stats.sum`, Float64Array, H, 'out'),
    sumAbs: alloc(`${g}.stats.sumAbs`, Float64Array, H, 'out'),
    sumAbsF32: alloc(`${g}.stats.sumAbsF32`, Float32Array, H, 'out'),
    minAbs: alloc(`${g}.stats.minAbs`, Float32Array, H, 'out', () => 2),
    saturated: alloc(`${g}.stats.saturated`, Uint32Array, H, 'out'),
    flips: alloc(`${g}.stats.flips`, Uint32Array, H, 'out'),
    lastSign: alloc(`${g}.stats.lastSign`, Uint8Array, H, 'out'),
  });
  const g0: ChunkGroup = {
    weights: alloc('g0.weights', Float32Array, P, 'in', (i) => model.weights[i]!),
    state: alloc('g0.state', Float32Array, H, 'out', (i) => (i % 3) / 4),
    stepsBefore: 0,
    mode: alloc('g0.mode', Uint8Array, H, 'in', (i) => (i === 2 ? 1 : i === 5 ? 2 : 0)),
    value: alloc('g0.value', Float32Array, H, 'in', (i) => (i === 2 ? 0.5 : 0)),
    substPos: alloc('g0.substPos', Float64Array, 3, 'in', (i) => 7 + i * 11),
    substByte: alloc('g0.substByte', Uint8Array, 3, 'in', (i) => 40 + i),
    patchPos: alloc('g0.patchPos', Float64Array, 4, 'in', (i) => 3 + i * 9),
    patchNeurons: alloc('g0.patchNeurons', Uint32Array, 2, 'in', (i) => [2, 9][i]!),
    patchValues: alloc('g0.patchValues', Float32Array, 8, 'in', (i) => Math.cos(i)),
    stats: stats('g0'),
    statesOut: alloc('g0.statesOut', Float32Array, T * H, 'out'),
    preOut: alloc('g0.preOut', Float32Array, T * H, 'out'),
    use: use('g0', 5),
    totals: alloc('g0.totals', Float64Array, V, 'out', (i) => i),
    bitsOut: alloc('g0.bitsOut', Float64Array, V * T, 'out'),
  };
  const select = (t: number) => (t % 3 === 0 ? 1 : 0);
  const rows = Array.from({ length: T }, (_, t) => select(t)).reduce((a, b) => a + b, 0);
  const r = randomText(T * H, 9);
  const g1: ChunkGroup = {
    weights: alloc('g1.weights', Float32Array, P, 'in', (i) => model.weights[i]! * 0.75),
    states: alloc('g1.states', Float32Array, T * H, 'in', (i) => r[i]! / 128 - 1),
    use: use('g1', 7),
    totals: alloc('g1.totals', Float64Array, V, 'out'),
    select: alloc('g1.select', Uint8Array, T, 'in', select),
    bitsOut: alloc('g1.bitsOut', Float64Array, V * T, 'out', () => -1),
    probsOut: alloc('g1.probsOut', Float64Array, V * rows * 256, 'out'),
  };
  const from = T >> 1;
  const g2: ChunkGroup = {
    weights: alloc('g2.weights', Float32Array, P, 'in', (i) => model.weights[i]!),
    state: alloc('g2.state', Float32Array, H, 'out'),
    stepsBefore: from,
    from,
    prefix: alloc('g2.prefix', Float32Array, from * H, 'in', (i) => Math.sin(i)),
    statesOut: alloc('g2.statesOut', Float32Array, T * H, 'out'),
    use: use('g2', 3),
    totals: alloc('g2.totals', Float64Array, V, 'out'),
  };
  const bytes = alloc('bytes', Uint8Array, T + 1, 'in', (i) => text[i]!);
  return { req: { hidden: H, bytes, pos0: 0, steps: T, method: 'certified', groups: [g0, g1, g2] }, arrays, inputs, written };
}

function snapshot(c: Chunk): Map<string, Typed> {
  return new Map([...c.arrays].map(([k, a]) => [k, a.slice()]));
}

async function expectDetachedOutput(p: Promise<unknown>, key: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `detached ${key}: the call must reject`).toBeInstanceOf(SatrnnError);
  expect((err as SatrnnError).code).toBe('BAD_OPTION');
  expect((err as SatrnnError).message).toMatch(/output buffer \(.+\) was detached or resized while the job ran/);
}

// Native: every array detached on its own (each is a pointer the kernels use); js: the
// inputs all at once (one copy step takes them all, and a js chunk costs more), and on
// worker threads (the same copy step; T must reach WORKER_THRESHOLD) one output per kind.
const someOutputs = ['g0.state', 'g0.stats.flips', 'g0.statesOut', 'g0.preOut', 'g1.totals', 'g1.bitsOut', 'g1.probsOut', 'g2.statesOut'];
const paths: { label: string; make: () => Backend; T: number; inputsAtOnce: boolean; outputs?: string[] }[] = [
  ...(hasAvx2 ? [{ label: 'native avx2, 2 threads', make: () => selectBackend({ name: 'native', isa: 'avx2', threads: 2 }), T: 800, inputsAtOnce: false }] : []),
  ...(addon ? [{ label: 'native scalar, 1 thread', make: () => selectBackend({ name: 'native', isa: 'scalar', threads: 1 }), T: 300, inputsAtOnce: false }] : []),
  { label: 'js in-process', make: () => new JsBackend(1), T: 100, inputsAtOnce: true },
  { label: 'js worker threads', make: () => new JsBackend(2), T: 180, inputsAtOnce: true, outputs: someOutputs },
];

describe('a chunk owns its arrays: detach, resize and GC while it runs', () => {
  for (const path of paths) {
    it(`${path.label}: a detached input changes nothing, a detached output rejects and writes nothing`, async () => {
      const be = path.make();
      const base = makeChunk(path.T);
      const r0 = await be.runChunk(base.req);
      const want = snapshot(base);
      const cases = [...(path.inputsAtOnce ? [base.inputs] : base.inputs.map((k) => [k])), ...(path.outputs ?? base.written).map((k) => [k])];
      for (const keys of cases) {
        const key = keys.join(', ');
        const c = makeChunk(path.T);
        const before = snapshot(c);
        const p = be.runChunk(c.req);
        for (const k of keys) detach(c.arrays.get(k)!);
        gc();
        if (base.inputs.includes(keys[0]!)) {
          expect(await p, `detached input ${key}`).toEqual(r0);
          for (const k of c.written) expect(sameBytes(c.arrays.get(k)!, want.get(k)!), `detached input ${key}: ${k}`).toBe(true);
        } else {
          await expectDetachedOutput(p, key);
          for (const k of c.written) if (k !== key) expect(sameBytes(c.arrays.get(k)!, before.get(k)!), `detached output ${key}: ${k} untouched`).toBe(true);
        }
      }
    });

    it(`${path.label}: arrays shrunk (resizable ArrayBuffer) or detached mid-run`, async () => {
      const be = path.make();
      const base = makeChunk(path.T, true);
      const r0 = await be.runChunk(base.req);
      const want = snapshot(base);
      const shrink = (a: Typed) => (a.buffer as unknown as { resize(n: number): void }).resize(0);
      // An input shrunk to nothing: same result.
      let c = makeChunk(path.T, true);
      let p = be.runChunk(c.req);
      shrink(c.arrays.get('g1.states')!);
      shrink(c.arrays.get('g0.weights')!);
      gc();
      expect(await p).toEqual(r0);
      for (const k of c.written) expect(sameBytes(c.arrays.get(k)!, want.get(k)!), `shrunk inputs: ${k}`).toBe(true);
      // An output shrunk: rejects.
      c = makeChunk(path.T, true);
      p = be.runChunk(c.req);
      shrink(c.arrays.get('g0.statesOut')!);
      gc();
      await expectDetachedOutput(p, 'g0.statesOut');
      // Everything detached a little later, while the work is (most likely) under way: the
      // call rejects, or it had completed before; nothing crashes.
      c = makeChunk(path.T);
      p = be.runChunk(c.req);
      let settled = false;
      void p.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((r) => setTimeout(r, 2));
      const early = settled;
      for (const a of c.arrays.values()) detach(a);
      gc();
      if (early) expect(await p).toEqual(r0);
      else await expectDetachedOutput(p, 'any');
    });
  }
});

const trainPaths: { label: string; make: () => Backend; fast: boolean }[] = [
  ...(hasAvx2 ? [{ label: 'native avx2', make: () => selectBackend({ name: 'native', isa: 'avx2', threads: 2 }), fast: false }] : []),
  ...(addon?.info().fastTraining ? [{ label: 'native avx2 --fast', make: () => selectBackend({ name: 'native', isa: 'avx2', threads: 2 }), fast: true }] : []),
  ...(addon ? [{ label: 'native scalar', make: () => selectBackend({ name: 'native', isa: 'scalar', threads: 1 }), fast: false }] : []),
  { label: 'js worker thread', make: () => new JsBackend(2), fast: false },
];

describe('training and evaluation own their arrays', () => {
  const TH = 24;
  const model = randomModel(TH, 11);
  const text = randomText(1500, 12);
  const lr = Math.fround(0.01);
  const params = { bptt: 25, lr, clip: 5 };
  for (const path of trainPaths) {
    it(`${path.label}: trainEpoch and evalBpc with the data or the weights detached`, async () => {
      const be = path.make();
      const p1 = { ...params, fast: path.fast };
      const w0 = model.weights.slice();
      const bpc0 = await be.trainEpoch(w0, TH, text.slice(), lr, p1);
      const eval0 = await be.evalBpc(model.weights.slice(), TH, text.slice(), { fast: path.fast });

      // trainEpoch, data detached: same bpc, same trained weights.
      let w = model.weights.slice();
      let d = text.slice();
      let p = be.trainEpoch(w, TH, d, lr, p1);
      detach(d);
      gc();
      expect(Object.is(await p, bpc0)).toBe(true);
      expect(sameBytes(w, w0)).toBe(true);
      // trainEpoch, weights (in/out) detached: rejects.
      w = model.weights.slice();
      p = be.trainEpoch(w, TH, text.slice(), lr, p1);
      detach(w);
      gc();
      await expectDetachedOutput(p, 'weights');
      // evalBpc, either input detached: same bpc.
      for (const which of ['weights', 'data'] as const) {
        w = model.weights.slice();
        d = text.slice();
        p = be.evalBpc(w, TH, d, { fast: path.fast });
        detach(which === 'weights' ? w : d);
        gc();
        expect(Object.is(await p, eval0), `evalBpc, ${which} detached`).toBe(true);
      }
    });
  }
});

describe('the issue: transfer the model weights while an analysis runs', () => {
  for (const path of paths) {
    it(`${path.label}: an.meanBpc completes as undisturbed (or rejects with a typed error)`, async () => {
      const model = randomModel(32, 21);
      const data = randomText(Math.max(200, path.T), 22);
      const variants = Array.from({ length: 12 }, (_, i) => ({ knockout: [i, (i * 7) % 32] }));
      const want = await new Analysis({ model: randomModel(32, 21), data, backend: path.make() }).meanBpc(variants);
      const an = new Analysis({ model, data, backend: path.make() });
      const p = an.meanBpc(variants);
      await new Promise((r) => setTimeout(r, 1));
      structuredClone(model.weights.buffer, { transfer: [model.weights.buffer as ArrayBuffer] });
      gc();
      try {
        expect(Array.from(await p)).toEqual(Array.from(want));
      } catch (err) {
        expect(err).toBeInstanceOf(SatrnnError);
      }
    });
  }
});

describe.skipIf(!addon)('the addon itself', () => {
  const T = 64;
  it('rejects a detached output with a TypeError and uses SharedArrayBuffer arrays in place', async () => {
    const c = makeChunk(T);
    const o = { ...c.req, method: 1, isa: 0, threads: 1 };
    const p = addon!.run(o as never);
    detach(c.arrays.get('g0.bitsOut')!);
    gc();
    await expect(p).rejects.toThrow(TypeError);
    await expect(p).rejects.toThrow(/^satrnn native: an output buffer \(bitsOut\) was detached or resized while the job ran/);

    const base = makeChunk(T);
    await addon!.run({ ...base.req, method: 1, isa: 0, threads: 1 } as never);
    const s = makeChunk(T);
    const onShared = <A extends Typed>(a: A): A => {
      const out = new (a.constructor as new (b: SharedArrayBuffer) => A)(new SharedArrayBuffer(a.byteLength));
      out.set(a as never);
      return out;
    };
    const g0 = s.req.groups[0]!;
    g0.statesOut = onShared(g0.statesOut!);
    g0.weights = onShared(g0.weights);
    g0.totals = onShared(g0.totals!);
    await addon!.run({ ...s.req, method: 1, isa: 0, threads: 1 } as never);
    expect(sameBytes(g0.statesOut, base.arrays.get('g0.statesOut')!)).toBe(true);
    expect(sameBytes(g0.totals, base.arrays.get('g0.totals')!)).toBe(true);
  });
  it('takes the cancel flag only on a SharedArrayBuffer (its watcher reads it while the job runs)', () => {
    const c = makeChunk(8);
    expect(() => addon!.run({ ...c.req, method: 1, isa: 0, threads: 1, cancel: new Int32Array(1) } as never)).toThrow(/cancel must be an Int32Array on a SharedArrayBuffer/);
  });
});
