// The native code path chosen for each CPU, with the addon's feature report faked (the
// machine running the tests has one CPU): the best ISA it has by default (avx512, avx2, sse2,
// scalar), an ISA it lacks a BACKEND_UNAVAILABLE error naming the one to use, an unknown
// name BAD_OPTION; and the real addon's AVX-512 report agrees with the CPU's flags.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NativeAddon } from '../../lib/engine/native.js';

type Features = { avx2: boolean; sse2: boolean; avx512?: boolean };
const cpu: { features: Features; real: boolean } = { features: { avx2: true, sse2: true, avx512: true }, real: false };

vi.mock('../../lib/engine/native.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/engine/native.js')>();
  const fake = { info: () => ({ avx2Compiled: true, fastTraining: false, hardwareThreads: 2, napiVersion: 8, sanitized: false, ...cpu.features }) };
  return { ...real, loadAddon: () => (cpu.real ? real.loadAddon() : (fake as unknown as NativeAddon)) };
});

const { selectBackend } = await import('../../lib/engine/index.js');
const { SatrnnError } = await import('../../lib/errors.js');

function failure(fn: () => unknown): SatrnnError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SatrnnError);
    return err as SatrnnError;
  }
  throw new Error('expected a SatrnnError');
}

describe('native ISA selection per CPU (faked feature report)', () => {
  const saved = process.env.SATRNN_ISA;
  beforeEach(() => {
    delete process.env.SATRNN_ISA;
    cpu.real = false;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.SATRNN_ISA;
    else process.env.SATRNN_ISA = saved;
  });

  it('the default is the best ISA the CPU has: avx512, then avx2, sse2, scalar', () => {
    const cases: [Features, string][] = [
      [{ avx512: true, avx2: true, sse2: true }, 'avx512'],
      [{ avx512: false, avx2: true, sse2: true }, 'avx2'],
      [{ avx2: true, sse2: true }, 'avx2'], // an addon built before AVX-512 existed reports no avx512 field
      [{ avx512: false, avx2: false, sse2: true }, 'sse2'],
      [{ avx512: false, avx2: false, sse2: false }, 'scalar'],
    ];
    for (const [features, want] of cases) {
      cpu.features = features;
      expect(selectBackend('native').isa, JSON.stringify(features)).toBe(want);
      expect(selectBackend({ name: 'native', isa: want as never }).isa).toBe(want);
    }
  });

  it('avx512 requested on a CPU without it: BACKEND_UNAVAILABLE naming the best ISA there (API and SATRNN_ISA)', () => {
    cpu.features = { avx512: false, avx2: true, sse2: true };
    for (const make of [() => selectBackend({ name: 'native', isa: 'avx512' }), () => ((process.env.SATRNN_ISA = 'avx512'), selectBackend('native'))]) {
      const err = failure(make);
      expect(err.code).toBe('BACKEND_UNAVAILABLE');
      expect(err.message).toMatch(/avx512 was requested but this CPU \(or this build\) does not have it; use SATRNN_ISA=avx2/);
    }
    cpu.features = { avx512: false, avx2: false, sse2: false };
    const err = failure(() => selectBackend({ name: 'native', isa: 'avx2' }));
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toMatch(/avx2 was requested .* use SATRNN_ISA=scalar/);
  });

  it('an unknown ISA is BAD_OPTION listing the four', () => {
    cpu.features = { avx512: true, avx2: true, sse2: true };
    const err = failure(() => selectBackend({ name: 'native', isa: 'avx1024' as never }));
    expect(err.code).toBe('BAD_OPTION');
    expect(err.message).toMatch(/use avx512, avx2, sse2, scalar/);
    process.env.SATRNN_ISA = 'avx1024';
    expect(failure(() => selectBackend('native')).message).toMatch(/SATRNN_ISA=avx1024 is not valid; use one of: avx512, avx2, sse2, scalar/);
  });
});

describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('the real addon reports AVX-512 as the CPU and OS have it', () => {
  it('info().avx512 is true exactly when /proc/cpuinfo lists avx512f, avx512dq, avx512bw and avx512vl (and avx2)', async () => {
    cpu.real = true;
    const { loadAddon } = await import('../../lib/engine/native.js');
    const addon = loadAddon();
    if (!addon) return; // helpers.ts warns (and fails under CI) when the addon is missing
    const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
    const want = ['avx2', 'avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((f) => flags.has(f));
    expect(addon.info().avx512).toBe(want);
  });
});
