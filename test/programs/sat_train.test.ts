// sat_train: golden stdout and files on every path; the trainer API and `satrnn train`.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduce } from '../../lib/programs/index.js';
import { PATHS, cli, golden, hasShared, refDataPath } from '../helpers.js';
import { selectBackend } from '../../lib/engine/index.js';
import { SatrnnError } from '../../lib/errors.js';
import { type TrainState, initialModel, loadCheckpoint, makeCheckpoint, saveCheckpoint, train } from '../../lib/programs/sat_train/experiment.js';
import { trainLr } from '../../lib/engine/js/train.js';
import { randomText } from '../models.js';

describe.skipIf(!hasShared)('golden: sat_train 5 5', () => {
  const expected = hasShared ? golden('sat_train_5epochs.txt') : '';
  const hashes = hasShared
    ? golden('sat_train_5epochs.sha256')
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/) as [string, string])
    : [];
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`stdout and every written file match on ${p.label}`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-train-'));
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const text = await reproduce('sat_train', [refDataPath, 'model', '5', '5'], {
          backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) },
        });
        expect(text).toBe(expected);
      } finally {
        process.chdir(cwd);
      }
      const written = readdirSync(dir).sort();
      expect(written).toEqual(hashes.map(([, f]) => f).sort());
      for (const [hash, file] of hashes) expect(createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex'), file).toBe(hash);
    }, 120_000);
  }
  it('golden hashes file names the three outputs', () => {
    expect(hashes.map(([, f]) => f)).toEqual(['model_epoch5.bin', 'model_best.bin', 'model_final.bin']);
  });
});

const paths = PATHS.filter((p) => p.enabled);
const backends = paths.map((p) => [p.label, selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}) })] as const);

describe('training: every backend writes identical model bytes', () => {
  for (const [H, n, bptt] of [
    [1, 60, 50],
    [7, 300, 13],
    [33, 500, 50],
    [128, 200, 50],
  ] as const) {
    it(`H=${H}, n=${n}, bptt=${bptt}, 3 epochs`, async () => {
      const data = randomText(n, H + n);
      let ref: { label: string; bytes: Uint8Array; history: string } | undefined;
      for (const [label, backend] of backends) {
        const r = await train({ data, hidden: H, epochs: 3, bptt, lr: 0.05, seed: 7, backend, evaluate: 'every' });
        const cur = { label, bytes: r.model.toBytes(), history: JSON.stringify(r.history) };
        expect(r.history).toHaveLength(3);
        for (const m of r.history) expect(Number.isFinite(m.trainBpc) && Number.isFinite(m.evalBpc!)).toBe(true);
        ref ??= cur;
        expect(Buffer.compare(cur.bytes, ref.bytes), `${label} vs ${ref.label}`).toBe(0);
        expect(cur.history).toBe(ref.history);
      }
    }, 120_000);
  }

  it('the lr schedule equals the original for lr 0.01 and keeps a 1% floor', () => {
    const bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
    expect([1, 2, 3, 4, 5].map((e) => bits(trainLr(e, 5, 0.01)))).toEqual([0x3c1431d6, 0x3bd67826, 0x3b626bd9, 0x3a7a533d, 0x38d1b717]);
    expect(trainLr(10, 10, 0.2)).toBe(Math.fround(Math.fround(0.2) * Math.fround(0.01)));
  });
});

describe('training: resume equals an uninterrupted run byte for byte', () => {
  it('API: checkpoint at epoch 2 of 5, saved, loaded, continued', async () => {
    const data = randomText(400, 3);
    const opts = { data, hidden: 9, epochs: 5, lr: 0.05, backend: 'js' as const };
    const whole = await train(opts);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-resume-'));
    let saved = '';
    await train({
      ...opts,
      epochs: 5,
      onEpoch: (m, state: TrainState) => {
        if (m.epoch === 2) saved = saveCheckpoint(makeCheckpoint({ hidden: 9, epochs: 5, bptt: 50, lr: Math.fround(0.05), seed: 42, clip: 5 }, data, state), path.join(dir, 'cp'));
      },
    });
    const resumed = await train({ ...opts, resume: loadCheckpoint(saved) });
    expect(resumed.history.map((m) => m.epoch)).toEqual([3, 4, 5]);
    expect(Buffer.compare(resumed.model.toBytes(), whole.model.toBytes())).toBe(0);
    expect(Buffer.compare(resumed.best!.model.toBytes(), whole.best!.model.toBytes())).toBe(0);
    expect(resumed.history).toEqual(whole.history.slice(2));
    await expect(train({ ...opts, lr: 0.02, resume: loadCheckpoint(saved) })).rejects.toThrow(/different lr/);
    await expect(train({ ...opts, data: randomText(400, 4), resume: loadCheckpoint(saved) })).rejects.toThrow(/different data/);
  }, 120_000);

  it('CLI: --checkpoint-every then --resume gives the same final.bin', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-resume-cli-'));
    const data = path.join(dir, 'd.txt');
    writeFileSync(data, randomText(300, 8));
    const common = ['train', '-d', data, '--hidden', '6', '--epochs', '4', '--lr', '0.05'];
    expect(cli(...common, '--out', path.join(dir, 'a')).status).toBe(0);
    expect(cli(...common, '--out', path.join(dir, 'b'), '--checkpoint-every', '2').status).toBe(0);
    expect(readdirSync(path.join(dir, 'b')).sort()).toEqual(
      ['best.bin', 'checkpoint-epoch2.best.bin', 'checkpoint-epoch2.bin', 'checkpoint-epoch2.json', 'checkpoint-epoch4.best.bin', 'checkpoint-epoch4.bin', 'checkpoint-epoch4.json', 'final.bin'].sort(),
    );
    const r = cli('train', '-d', data, '--resume', path.join(dir, 'b', 'checkpoint-epoch2.json'), '--out', path.join(dir, 'c'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.history.map((m: { epoch: number }) => m.epoch)).toEqual([3, 4]);
    const bytes = (p: string): Buffer => readFileSync(p);
    expect(Buffer.compare(bytes(path.join(dir, 'c', 'final.bin')), bytes(path.join(dir, 'a', 'final.bin')))).toBe(0);
    expect(Buffer.compare(bytes(path.join(dir, 'c', 'best.bin')), bytes(path.join(dir, 'a', 'best.bin')))).toBe(0);
    const clash = cli('train', '-d', data, '--resume', path.join(dir, 'b', 'checkpoint-epoch2.json'), '--epochs', '9', '--out', path.join(dir, 'd'));
    expect(clash.status).toBe(2);
    expect(clash.stderr).toMatch(/--epochs 9 differs from the checkpoint's epochs=4/);
  }, 120_000);
});

describe('training: bad arguments give clear errors and leave no partial file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-train-bad-'));
  const data = path.join(dir, 'd.txt');
  writeFileSync(data, 'hello hello hello');
  writeFileSync(path.join(dir, 'one.txt'), 'x');
  writeFileSync(path.join(dir, 'empty.txt'), '');
  const cases: [string, string[], number, RegExp][] = [
    ['0 epochs', ['train', '-d', data, '--epochs', '0'], 2, /--epochs.*integer from 1/],
    ['hidden 0', ['train', '-d', data, '--hidden', '0'], 2, /--hidden.*integer from 1/],
    ['empty data', ['train', '-d', path.join(dir, 'empty.txt')], 2, /0 bytes of data; at least 2/],
    ['1-byte data', ['train', '-d', path.join(dir, 'one.txt')], 2, /1 byte of data; at least 2/],
    ['checkpoint interval 0', ['train', '-d', data, '--checkpoint-every', '0'], 2, /--checkpoint-every.*integer from 1/],
    ['negative lr', ['train', '-d', data, '--lr', '-1'], 2, /positive number/],
    ['missing resume file', ['train', '-d', data, '--resume', path.join(dir, 'nope.json')], 2, /cannot read checkpoint/],
    ['reproduce sat_train 0 epochs', ['reproduce', 'sat_train', data, path.join(dir, 'm'), '0'], 2, /max_epochs must be at least 1/],
    ['reproduce sat_train ckpt 0', ['reproduce', 'sat_train', data, path.join(dir, 'm'), '2', '0'], 2, /ckpt_every must be at least 1/],
    ['reproduce sat_train too few args', ['reproduce', 'sat_train', data, path.join(dir, 'm')], 2, /Usage: satrnn reproduce sat_train <datafile> <model_prefix> <max_epochs> \[ckpt_every\]/],
    ['reproduce sat_train 1-byte data', ['reproduce', 'sat_train', path.join(dir, 'one.txt'), path.join(dir, 'm'), '2'], 2, /at least 2/],
  ];
  for (const [name, args, status, re] of cases)
    it(name, () => {
      const r = cli(...args);
      expect(r.status, r.stderr).toBe(status);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  it('unwritable output folder', () => {
    const ro = path.join(dir, 'ro');
    const r0 = cli('train', '-d', data, '--epochs', '1', '--hidden', '2', '--out', path.join(ro, 'x'));
    expect(r0.status).toBe(0);
    chmodSync(ro, 0o500);
    const blocked = path.join(ro, 'sub');
    const r = cli('train', '-d', data, '--epochs', '1', '--hidden', '2', '--out', blocked);
    chmodSync(ro, 0o700);
    // root ignores permission bits; then the run simply succeeds, which is also clean.
    if (r.status !== 0) {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/cannot write to output folder/);
      expect(existsSync(blocked)).toBe(false);
    }
    const f = path.join(dir, 'file');
    writeFileSync(f, 'not a folder');
    const r2 = cli('train', '-d', data, '--epochs', '1', '--out', f);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/cannot write to output folder/);
    expect(readFileSync(f, 'utf8')).toBe('not a folder');
  });
  it('API: typed errors', async () => {
    await expect(train({ data: new Uint8Array(5), epochs: 0 })).rejects.toBeInstanceOf(SatrnnError);
    await expect(train({ data: new Uint8Array(1), epochs: 1 })).rejects.toThrow(/at least 2/);
    await expect(train({ data: new Uint8Array(5), epochs: 1, hidden: 0 })).rejects.toThrow(/hidden/);
    await expect(train({ data: new Uint8Array(5), epochs: 1, bptt: 0 })).rejects.toThrow(/bptt/);
    expect(initialModel(3).hidden).toBe(3);
  });
});

describe('training: --fast kernels', () => {
  const native = selectBackend({ name: paths.some((p) => p.backend === 'native') ? 'native' : 'js' });
  it.skipIf(!native.fastTraining)('are deterministic whatever the thread count, report themselves, and train as well as the exact ones', async () => {
    const data = randomText(1500, 21);
    const opts = { data, hidden: 64, epochs: 4, lr: 0.05, backend: native, evaluate: 'every' as const };
    const exact = await train(opts);
    // One thread and two (the helper thread takes tasks): the same bytes.
    const fast1 = await train({ ...opts, fast: true, backend: selectBackend({ name: 'native', threads: 1 }) });
    const fast2 = await train({ ...opts, fast: true, backend: selectBackend({ name: 'native', threads: 2 }) });
    expect(exact.kernels).toBe('exact');
    expect(fast1.kernels).toBe('fast');
    expect(Buffer.compare(fast1.model.toBytes(), fast2.model.toBytes())).toBe(0);
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(fast1.history[i]!.trainBpc - exact.history[i]!.trainBpc)).toBeLessThan(1e-3);
      expect(Math.abs(fast1.history[i]!.evalBpc! - exact.history[i]!.evalBpc!)).toBeLessThan(1e-3);
    }
  }, 120_000);
  it('fall back to the exact kernels (bit-identical) where unavailable', async () => {
    const js = selectBackend({ name: 'js' });
    expect(js.fastTraining).toBe(false);
    const data = randomText(200, 5);
    const a = await train({ data, hidden: 5, epochs: 2, backend: js, fast: true });
    const b = await train({ data, hidden: 5, epochs: 2, backend: js });
    expect(a.kernels).toBe('exact');
    expect(Buffer.compare(a.model.toBytes(), b.model.toBytes())).toBe(0);
  });
});
