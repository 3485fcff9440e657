// Property tests (fast-check): whatever comes in, the API returns a result or a typed error,
// never crashes; batched results equal one-at-a-time results.
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
    fc.constant({}),
  );
  it('engine run with random option and group objects', async () => {
    const keys = fc.constantFrom('weights', 'hidden', 'bytes', 'state', 'states', 'mode', 'value', 'substPos', 'substByte', 'use', 'totals', 'bitsOut', 'statesOut', 'isa', 'steps', 'pos0', 'threads', 'method', 'cancel');
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
