import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SatrnnError } from '../lib/errors.js';
import { Model, paramCount, parseModel } from '../lib/model.js';
import { checkData } from '../lib/data.js';
import { Analysis } from '../lib/analysis.js';
import { CumulativeKnockout, KeepTopK, NeuronSuite, SignOnly, readoutDecode } from '../lib/programs/q3_neurons/experiment.js';
import { selectBackend } from '../lib/engine/index.js';
import { addon, hasShared, refDataPath, refModelPath, repoRoot, sharedDir } from './helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-bad-'));
const file = (name: string, bytes: Uint8Array | string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const floats = (n: number, v = 0.01): Uint8Array => new Uint8Array(new Float32Array(n).fill(v).buffer);

const goodModel = file('good.bin', floats(paramCount(128)));
const smallModel = file('h3.bin', floats(paramCount(3)));
const nanModel = (() => {
  const f = new Float32Array(paramCount(128)).fill(0.01);
  f[40000] = NaN;
  return file('nan.bin', new Uint8Array(f.buffer));
})();
const infModel = (() => {
  const f = new Float32Array(paramCount(4)).fill(0.01);
  f[3] = -Infinity;
  return file('inf.bin', new Uint8Array(f.buffer));
})();
const shortModel = file('short.bin', floats(paramCount(128) - 10));
const oddModel = file('odd.bin', floats(1000));
const emptyData = file('empty.txt', '');
const oneByte = file('one.txt', 'x');
const text = file('text.txt', 'hello world, hello satrnn');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A clean failure: the given exit status, a short message naming the problem, no stack trace. */
function expectCleanFailure(r: ReturnType<typeof cli>, status: number, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
}

describe('bad input: CLI exits non-zero with a clear message', () => {
  it('missing data file', () => expectCleanFailure(cli('reproduce', 'q3_neurons', path.join(dir, 'nope.txt'), goodModel), 2, /data file not found: .*nope\.txt/));
  it('missing model file', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, path.join(dir, 'nope.bin')), 2, /model file not found/));
  it('short model', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, shortModel), 2, /329176 bytes.*needs 329216.*truncated/));
  it('model of another H in reproduce (H fixed at 128)', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, smallModel), 2, /needs 329216/));
  it('model size that matches no H', () => expectCleanFailure(cli('knockout', '--model', oddModel, '--data', text), 2, /4000 bytes is not the size of any sat-rnn model/));
  it('NaN weight', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, nanModel), 2, /weight Wx\[.*\]|weight Wh\[.*\] is NaN/));
  it('Inf weight (modern command, any H)', () => expectCleanFailure(cli('knockout', '--model', infModel, '--data', text), 2, /weight Wx\[0\]\[3\] is -Infinity/));
  it('empty data', () => expectCleanFailure(cli('reproduce', 'q3_neurons', emptyData, goodModel), 2, /0 bytes of data; at least 2 needed/));
  it('one-byte data', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', oneByte), 2, /1 byte of data; at least 2 needed/));
  it('data path is a folder', () => expectCleanFailure(cli('reproduce', 'q3_neurons', dir, goodModel), 2, /is a folder/));
  it('unknown program', () => expectCleanFailure(cli('reproduce', 'q9_nothing', text, goodModel), 2, /unknown program 'q9_nothing'/));
  it('missing arguments', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text), 2, /Usage: satrnn reproduce q3_neurons <data> <model>/));
  it('too many arguments', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, goodModel, 'extra'), 2, /takes 2 arguments/));
  it('no program', () => expectCleanFailure(cli('reproduce'), 2, /missing program name/));
  it('bad --backend', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, goodModel, '--backend', 'gpu'), 2, /--backend must be native or js/));
  it('bad --isa', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, goodModel, '--isa', 'sse9'), 2, /--isa must be avx2, sse2 or scalar/));
  it('bad --threads', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '--threads', '0'), 2, /expected an integer from 1 to 256/));
  it('bad --top', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '--top', 'x'), 2, /expected an integer/));
  it('unknown option', () => expectCleanFailure(cli('knockout', '--frobnicate'), 2, /unknown option/));
  it('unknown command', () => expectCleanFailure(cli('frobnicate'), 2, /unknown command/));
  it('--json and --csv together', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '--json', '--csv'), 2, /one of --json and --csv/));
  it('bad SATRNN_BACKEND', () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), 'info'], {
      encoding: 'utf8',
      env: { ...process.env, SATRNN_BACKEND: 'cuda' },
    });
    expectCleanFailure({ status: r.status, stdout: r.stdout, stderr: r.stderr }, 2, /SATRNN_BACKEND=cuda is not valid/);
  });
  it('unwritable -o', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '-o', path.join(dir, 'no', 'such', 'dir', 'x.txt')), 1, /cannot write/));
  it('--help and --version exit 0', () => {
    for (const args of [['--help'], ['reproduce', '--help'], ['knockout', '--help'], ['info', '--help'], ['--version']]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  });
  it('reproduce --list names q3_neurons', () => {
    const r = cli('reproduce', '--list');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^q3_neurons\s+<data> <model>/m);
  });
  it.skipIf(!hasShared)('trailing model bytes: one warning line, output as the original', () => {
    const ref = new Uint8Array(readFileSync(refModelPath));
    const padded = file('padded.bin', new Uint8Array([...ref, 1, 2, 3, 4, 5]));
    const r = cli('reproduce', 'q3_neurons', refDataPath, padded);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^satrnn: warning: .*ignoring 5 bytes after the 329216-byte model\n$/);
    expect(r.stdout).toBe(readFileSync(path.join(sharedDir, 'golden', 'reference', 'q3_neurons.txt'), 'utf8'));
  });
});

describe('bad input: API raises typed errors', () => {
  const expectCode = (fn: () => unknown, code: string): void => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(SatrnnError);
      expect((err as SatrnnError).code).toBe(code);
      return;
    }
    throw new Error('expected a SatrnnError');
  };
  it('model sizes', () => {
    expectCode(() => parseModel(new Uint8Array(7)), 'BAD_MODEL_SIZE');
    expectCode(() => parseModel(new Uint8Array(0)), 'BAD_MODEL_SIZE');
    expectCode(() => new Model(new Float32Array(10), 3), 'BAD_MODEL_SIZE');
    expectCode(() => new Model(new Float32Array(10), 0), 'BAD_OPTION');
    expect(parseModel(floats(paramCount(1))).hidden).toBe(1);
    expect(parseModel(floats(paramCount(300))).hidden).toBe(300);
  });
  it('data length', () => {
    expectCode(() => checkData(new Uint8Array(1)), 'DATA_TOO_SHORT');
    expect(checkData(new Uint8Array(2)).length).toBe(2);
  });
  it('backend options', () => {
    expectCode(() => selectBackend({ name: 'gpu' as never }), 'BAD_OPTION');
    if (addon) expectCode(() => selectBackend({ name: 'native', threads: 0 }), 'BAD_OPTION');
  });
  it('experiment options', async () => {
    const model = new Model(new Float32Array(paramCount(4)), 4);
    const an = new Analysis({ model, data: new Uint8Array([1, 2, 3]), backend: 'js' });
    await expect(an.meanBpc([{ knockout: [4] }])).rejects.toThrow(/neuron index 4 is out of range 0..3/);
    expect(() => new KeepTopK({ ranking: [0, 0, 1, 2] })).toThrow(/distinct neuron/);
    expect(() => new KeepTopK({ ranking: [0, 1, 2, 3], counts: [5] })).toThrow(/outside/);
    await expect(new KeepTopK({ ranking: [0, 1, 2, 3, 4, 5] }).run(an)).rejects.toThrow(/4 is not a distinct neuron index in 0..3/);
    expectCode(() => new CumulativeKnockout(undefined as never), 'BAD_OPTION');
    expectCode(() => readoutDecode(model, 9), 'BAD_OPTION');
    expect(() => readoutDecode(model, 1.5)).toThrow(/neuron index 1.5 is not an integer/);
    await expect(an.meanBpc([{ knockout: [1.5] }])).rejects.toThrow(/neuron index 1.5 is not an integer/);
    // Models smaller than the originals' top-10 decode: every neuron is decoded.
    const small = await new NeuronSuite().run(an);
    expect(small.decode.map((d) => d.neuron).sort()).toEqual([0, 1, 2, 3]);
    // Sign-only without a baseline evaluates its own (no NaN deltas).
    const sign = await new SignOnly().run(an);
    for (const n of sign.neurons) expect(Number.isNaN(n.deltaBpc)).toBe(false);
    // Texts given as paths or streams are checked when read.
    const onText = (data: never) => new Analysis({ model, data, backend: 'js' }).meanBpc([{}]);
    await expect(onText(os.tmpdir() as never)).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    await expect(onText('/nonexistent/text.txt' as never)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(onText((() => (async function* () { yield 'x'; })()) as never)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(onText((() => (async function* () { yield new Uint8Array([1]); })()) as never)).rejects.toMatchObject({ code: 'DATA_TOO_SHORT' });
  });
});

describe.skipIf(!addon)('bad input: the addon validates before touching memory', () => {
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
    expect(() => run(chunk([dyn], { steps: 4 }))).toThrow(/bytes must hold/);
    expect(() => run(null as never)).toThrow(/options object/);
    const statesOut = new Float32Array(8);
    await run(chunk([{ ...dyn, statesOut }]));
    expect(Array.from(statesOut)).toEqual(new Array(8).fill(0)); // zero weights: tanh(0) everywhere
  });
  it('readout groups', () => {
    expect(() => run(chunk([{ ...given, states: new Float32Array(7) }]))).toThrow(/states has length 7/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(6) }]))).toThrow(/use length/);
    expect(() => run(chunk([{ ...given, use: new Uint8Array(4).fill(4) }]))).toThrow(/use values/);
    expect(() => run(chunk([{ ...given, totals: new Float64Array(2) }]))).toThrow(/totals has length 2/);
    expect(() => run(chunk([{ ...given, bitsOut: new Float64Array(3) }]))).toThrow(/bitsOut has length 3/);
    expect(() => run(chunk([given], { bytes: new Uint8Array(2) }))).toThrow(/bytes must hold/);
    expect(() => run(chunk([given], { threads: 0 }))).toThrow(/threads/);
    expect(() => run(chunk([given]), 42)).toThrow(/onProgress/);
    expect(() => run(chunk([{ ...given, from: 1 }]))).toThrow(/from and prefix apply to groups with dynamics/);
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

describe('Ctrl-C', () => {
  it('SIGINT stops a long run cleanly: exit 130, one line, no partial output', async () => {
    const { randomModel, randomText } = await import('./models.js');
    const { spawn } = await import('node:child_process');
    const m = randomModel(128, 1);
    const mf = file('big.bin', m.toBytes());
    const tf = file('big.txt', randomText(20000, 2));
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), 'knockout', '-m', mf, '-d', tf, '--backend', 'js', '--threads', '1']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    setTimeout(() => child.kill('SIGINT'), 1500);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stderr).toMatch(/satrnn: interrupted/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe('');
  }, 60_000);
});
