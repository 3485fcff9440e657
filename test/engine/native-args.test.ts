// The addon's own argument checks (native/napi/args.h, through addon.run): wrong lengths, types
// and values are JS errors raised before any memory is touched, and inputs changed by JS
// while a job runs cannot break what was checked. (property.test.ts fuzzes the same checks.)
import { describe, expect, it } from 'vitest';
import { paramCount } from '../../lib/model.js';
import { addon } from '../helpers.js';

describe.skipIf(!addon)('the addon validates its arguments before touching memory', () => {
  const w = new Float32Array(paramCount(4));
  const chunk = (groups: object[], extra: object = {}) => ({ hidden: 4, bytes: new Uint8Array(3), pos0: 0, steps: 2, method: 1, isa: 0, threads: 1, groups, ...extra });
  const dyn = { weights: w, state: new Float32Array(4) };
  const given = { weights: w, states: new Float32Array(8), use: new Uint8Array(4).fill(1), totals: new Float64Array(1) };
  const run = (o: object, cb?: unknown) => addon!.run(o as never, cb as never);
  it('dynamics groups', async () => {
    expect(() => run(chunk([dyn], { hidden: 5 }))).toThrow(/weights has length/);
    expect(() => run(chunk([dyn], { hidden: 0 }))).toThrow(/hidden must be an integer/);
    expect(() => run(chunk([dyn], { hidden: 2.5 }))).toThrow(/hidden must be an integer/);
    expect(() => run(chunk([dyn], { bytes: new Float32Array(3) }))).toThrow(/wrong element type/);
    expect(() => run(chunk([{ ...dyn, state: new Float32Array(3) }]))).toThrow(/state has length 3/);
    expect(() => run(chunk([dyn], { isa: 7 }))).toThrow(/isa/);
    expect(() => run(chunk([{ ...dyn, mode: new Uint8Array(4).fill(3), value: new Float32Array(4) }]))).toThrow(/mode values/);
    expect(() => run(chunk([{ ...dyn, substPos: new Float64Array([2, 1]), substByte: new Uint8Array(2) }]))).toThrow(/ascending/);
    const patch = { patchPos: Float64Array.of(0, 1), patchNeurons: Uint32Array.of(3, 0), patchValues: new Float32Array(4) };
    expect(() => run(chunk([{ ...dyn, ...patch, patchPos: Float64Array.of(1, 1) }]))).toThrow(/patchPos must hold ascending/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchPos: Float64Array.of(-1, 1) }]))).toThrow(/patchPos must hold ascending non-negative/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchNeurons: Uint32Array.of(4, 0) }]))).toThrow(/patchNeurons must hold neuron indices below hidden/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchNeurons: Uint32Array.of(0, 0) }]))).toThrow(/patchNeurons must hold distinct/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchNeurons: Int32Array.of(3, 0) }]))).toThrow(/patchNeurons has the wrong element type/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchValues: new Float32Array(3) }]))).toThrow(/patchValues has length 3, expected 4/);
    expect(() => run(chunk([{ ...dyn, ...patch, patchValues: Float32Array.of(0, NaN, 0, 0) }]))).toThrow(/patchValues must be finite/);
    expect(() => run(chunk([{ ...dyn, patchNeurons: patch.patchNeurons, patchValues: patch.patchValues }]))).toThrow(/patchPos must be a typed array/);
    expect(() => run(chunk([{ ...dyn, patchPos: patch.patchPos, patchValues: patch.patchValues }]))).toThrow(/patchNeurons must be a typed array/);
    expect(() => run(chunk([{ ...dyn, patchPos: patch.patchPos, patchNeurons: patch.patchNeurons }]))).toThrow(/patchValues must be a typed array/);
    expect(() => run(chunk([{ ...dyn, stats: { sumAbs: new Float64Array(4) } }]))).toThrow(/sum must be a typed array/);
    expect(() => run(chunk([dyn], { steps: 4 }))).toThrow(/bytes must hold/);
    expect(() => run(null as never)).toThrow(/options object/);
    const statesOut = new Float32Array(8);
    await run(chunk([{ ...dyn, statesOut }]));
    expect(Array.from(statesOut)).toEqual(new Array(8).fill(0)); // zero weights: tanh(0) everywhere
    // A patch at position 1 (pos0 = 0): neurons 3 and 0 take their values after that step only.
    await run(chunk([{ ...dyn, statesOut, patchPos: Float64Array.of(1, 5), patchNeurons: Uint32Array.of(3, 0), patchValues: Float32Array.of(7, -2, 9, 9) }]));
    expect(Array.from(statesOut)).toEqual([0, 0, 0, 0, -2, 0, 0, 7]);
  });
  it('readout groups', () => {
    expect(() => run(chunk([{ ...given, states: new Float32Array(7) }]))).toThrow(/states has length 7/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(6) }]))).toThrow(/use length/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(4).fill(5) }]))).toThrow(/use values/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(4).fill(4) }]))).toThrow(/useValues is required/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(4).fill(4), useValues: new Float32Array(3) }]))).toThrow(/useValues has length 3/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(4).fill(4), useValues: Float32Array.of(0, NaN, 0, 0) }]))).toThrow(/useValues must be finite/);
    expect(() => run(chunk([{ ...given, totals: new Float64Array(2) }]))).toThrow(/totals has length 2/);
    expect(() => run(chunk([{ ...given, bitsOut: new Float64Array(3) }]))).toThrow(/bitsOut has length 3/);
    expect(() => run(chunk([given], { bytes: new Uint8Array(2) }))).toThrow(/bytes must hold/);
    expect(() => run(chunk([given], { threads: 0 }))).toThrow(/threads/);
    expect(() => run(chunk([given]), 42)).toThrow(/onProgress/);
    expect(() => run(chunk([{ ...given, from: 1 }]))).toThrow(/from and prefix apply to groups with dynamics/);
  });
  it('patch neurons changed by JS while a job runs cannot make the kernel write outside the state', async () => {
    const H = 4;
    const T = 3000;
    const statesOut = new Float32Array(T * H);
    const patchNeurons = Uint32Array.of(1);
    const p = run({ hidden: H, bytes: new Uint8Array(T), pos0: 0, steps: T, method: 1, isa: 0, threads: 1, groups: [{ weights: w, state: new Float32Array(H), statesOut, patchPos: Float64Array.of(T - 1), patchNeurons, patchValues: Float32Array.of(0.5) }] });
    patchNeurons[0] = 1 << 30; // would write a gigabyte past the states
    await p;
    expect(Array.from(statesOut.subarray((T - 1) * H))).toEqual([0, 0.5, 0, 0]);
  });
  it('inputs changed by JS while a job runs cannot break what was checked (the addon reads its own copies)', async () => {
    const H = 4;
    const T = 2000;
    const select = new Uint8Array(T);
    select[5] = 1;
    const use = new Uint8Array(3 * H).fill(1);
    const probsOut = new Float64Array(3 * 1 * 256); // sized for one selected position
    const p = run({ hidden: H, bytes: new Uint8Array(T + 1), pos0: 0, steps: T, method: 1, isa: 0, threads: 2, groups: [{ weights: w, state: new Float32Array(H), use, totals: new Float64Array(3), select, probsOut }] });
    select.fill(1); // would ask for 2,000 rows of probabilities
    use.fill(9); // an invalid use code
    await p;
    expect(probsOut.slice(0, 256).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12); // the checked row was written
  });
});
