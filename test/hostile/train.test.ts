// `satrnn train` and train() under hostile inputs and conditions: checkpoints that were
// tampered with, truncated, swapped or hand-edited (every field checked on load, the weight
// files' sha256 checked, the kernels recorded), output folders of other runs, signals, a
// diverged run, a read-only file system, a hidden size memory cannot hold, and API options
// of the wrong type. Every failure is one `satrnn: …` line (warnings aside), exit 2 for bad
// input and 1 for a runtime failure, never a stack trace, never file contents on stderr.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon, repoRoot, tmpFiles } from '../helpers.js';
import { randomText } from '../models.js';
import { SatrnnError } from '../../lib/errors.js';
import { paramCount, parseModel } from '../../lib/model.js';
import * as experiment from '../../lib/programs/sat_train/experiment.js';
import { loadCheckpoint, makeCheckpoint, saveCheckpoint, train, type TrainCheckpoint, type TrainState } from '../../lib/programs/sat_train/experiment.js';
import { selectBackend } from '../../lib/engine/index.js';

const bin = path.join(repoRoot, 'bin', 'satrnn.js');
const { dir, file } = tmpFiles('satrnn-hostile-train-');
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
// H = 4, 300 bytes: a run takes a few milliseconds. With --lr 3e36 --clip 3e38 this text's
// first epoch (of 10) is finite (the best copy) and its second overflows to NaN; with 3e38 the first.
const text = randomText(300, 11);
const data = file('d.txt', text);
const TINY = ['train', '-d', data, '--hidden', '4', '--epochs', '3', '--lr', '0.05'];

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs satrnn in a child process (asynchronously, so that cases run side by side). */
function run(args: string[], o: { cwd?: string; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: o.cwd ?? dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SATRNN_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    o.onStart?.(child);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** A clean failure: the status, one `satrnn:` line besides warnings, no stack, only printable text. */
function expectFailure(r: Run, status: number, re: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('satrnn: warning: ') && !/^epoch \d+\/\d+ /.test(l));
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error|node:internal|Error:/);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^satrnn: \S/);
  expect(lines[0]).toMatch(re);
  // Never a byte of a binary file: only printable ASCII and common punctuation.
  expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/);
}

/** Files whose names mark them as temp files (none may be left behind). */
const tempFiles = (d: string): string[] => readdirSync(d).filter((f) => f.endsWith('.tmp') || f.startsWith('.'));

/** A finished run with a checkpoint after every epoch (the material of the checkpoint cases). */
let base = '';
const baseRun = (async (): Promise<void> => {
  base = path.join(dir, 'base');
  const r = await run([...TINY, '--checkpoint-every', '1', '--out', base]);
  if (r.status !== 0) throw new Error(`base run failed: ${r.stderr}`);
})();

/** A copy of the base run's checkpoint of `epoch` in a new folder, its JSON edited by `edit`. */
async function tamper(name: string, epoch: number, edit: (meta: Record<string, unknown>) => void = () => {}): Promise<string> {
  await baseRun;
  const d = path.join(dir, name);
  mkdirSync(d);
  for (const f of readdirSync(base)) if (f.startsWith(`checkpoint-epoch${epoch}.`)) copyFileSync(path.join(base, f), path.join(d, f));
  const json = path.join(d, `checkpoint-epoch${epoch}.json`);
  const meta = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
  edit(meta);
  writeFileSync(json, JSON.stringify(meta));
  return json;
}
const opts = (m: Record<string, unknown>): Record<string, unknown> => m.options as Record<string, unknown>;
const resume = (cp: string, ...more: string[]): Promise<Run> => run(['train', '-d', data, '--resume', cp, '--out', path.join(path.dirname(cp), 'out'), ...more]);

describe('checkpoints are checked on load (CLI --resume)', () => {
  it.concurrent('the base run writes schema 2 with the weight files hashed and the kernels recorded', async () => {
    await baseRun;
    const meta = JSON.parse(readFileSync(path.join(base, 'checkpoint-epoch2.json'), 'utf8'));
    expect(meta.schema).toBe('satrnn.checkpoint/2');
    expect(meta.kernels).toBe('exact');
    expect(meta.modelSha256).toBe(sha(path.join(base, 'checkpoint-epoch2.bin')));
    expect(meta.bestSha256).toBe(sha(path.join(base, 'checkpoint-epoch2.best.bin')));
  });

  it.concurrent('a swapped .bin is refused (its sha256 differs from the recorded one)', async () => {
    const cp = await tamper('swap', 1);
    copyFileSync(path.join(base, 'checkpoint-epoch2.bin'), path.join(path.dirname(cp), 'checkpoint-epoch1.bin'));
    const r = await resume(cp);
    expectFailure(r, 2, /checkpoint-epoch1\.bin.*(sha256|changed|replaced)/);
    expect(existsSync(path.join(path.dirname(cp), 'out'))).toBe(false);
  });

  it.concurrent('a swapped .best.bin is refused too', async () => {
    const cp = await tamper('swap-best', 1);
    copyFileSync(path.join(base, 'checkpoint-epoch2.best.bin'), path.join(path.dirname(cp), 'checkpoint-epoch1.best.bin'));
    loadFails(cp, /checkpoint-epoch1\.best\.bin does not match its checkpoint .*sha256 differs/);
  });

  /** loadCheckpoint (what --resume calls) fails with FILE_UNREADABLE and a message matching `re`. */
  const loadFails = (cp: string, re: RegExp): void => {
    let err: unknown;
    try {
      loadCheckpoint(cp);
    } catch (e) {
      err = e;
    }
    expect(err, 'expected loadCheckpoint to throw').toBeInstanceOf(SatrnnError);
    expect((err as SatrnnError).code).toBe('FILE_UNREADABLE');
    expect((err as SatrnnError).message).toMatch(re);
  };
  // Through the CLI: a JSON with null options (was "internal error", exit 1) and epoch -5 (was
  // trained from "epoch -4"): exit 2, one line, nothing trained, no --out folder made.
  for (const [name, edit, re] of [
    ['options null', (m: Record<string, unknown>) => (m.options = null), /options must be an object/],
    ['epoch -5', (m: Record<string, unknown>) => (m.epoch = -5), /epoch must be an integer from 0 to 3 \(got -5\)/],
  ] as const)
    it.concurrent(`CLI: ${name}: exit 2 naming the field, nothing trained`, async () => {
      const cp = await tamper(`cli-${name.replace(/\W+/g, '-')}`, 2, edit);
      const r = await resume(cp);
      expectFailure(r, 2, re);
      expect(r.stderr).not.toMatch(/^epoch /m);
      expect(existsSync(path.join(path.dirname(cp), 'out'))).toBe(false);
    });

  // Every other field, through loadCheckpoint.
  const fieldCases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['no options', (m) => delete m.options, /options must be an object/],
    ['options.hidden null', (m) => (opts(m).hidden = null), /options\.hidden must be a number \(got null\)/],
    ['options.lr missing', (m) => delete opts(m).lr, /options\.lr must be a number \(got nothing\)/],
    ['options.bptt 0', (m) => (opts(m).bptt = 0), /options\.bptt must be an integer from 1/],
    ['options.clip a string', (m) => (opts(m).clip = '5'), /options\.clip must be a number \(got the string "5"\)/],
    ['options.hidden 65536', (m) => (opts(m).hidden = 65536), /options\.hidden 65536 is too large/],
    ['epoch null', (m) => (m.epoch = null), /epoch must be an integer from 0 to 3 \(got null\)/],
    ['epoch 1000', (m) => (m.epoch = 1000), /epoch must be an integer from 0 to 3/],
    ["epoch 'abc'", (m) => (m.epoch = 'abc'), /epoch must be an integer from 0 to 3 \(got the string "abc"\)/],
    ['epoch 1.5', (m) => (m.epoch = 1.5), /epoch must be an integer/],
    ['bestBpc null', (m) => (m.bestBpc = null), /bestBpc must be a number/],
    ['bestBpc a string', (m) => (m.bestBpc = 'NaN'), /bestBpc must be a number/],
    ['bestBpc negative', (m) => (m.bestBpc = -1), /bestBpc must be from 0/],
    ['bestBpc the sentinel with a best copy', (m) => (m.bestBpc = 999), /bestBpc must be from 0 to below 999/],
    ['bestEpoch after epoch', (m) => (m.bestEpoch = 3), /bestEpoch must be an integer from 1 to 2/],
    ['bestEpoch null with a best file', (m) => (m.bestEpoch = null), /bestEpoch is null but there is a best copy/],
    ['dataSha256 not a hash', (m) => (m.dataSha256 = 42), /dataSha256 must be 64 hex digits/],
    ['kernels unknown', (m) => (m.kernels = 'turbo'), /kernels must be 'exact' or 'fast'/],
    ['model file outside the folder', (m) => (m.model = '../../d.txt'), /model must be the name of a file in the checkpoint's folder/],
    ['modelSha256 missing', (m) => delete m.modelSha256, /modelSha256 must be 64 hex digits/],
    ['bestSha256 missing', (m) => delete m.bestSha256, /bestSha256 must be 64 hex digits/],
    ['a newer schema', (m) => (m.schema = 'satrnn.checkpoint/9'), /a checkpoint of a newer satrnn \(schema satrnn\.checkpoint\/9\)/],
  ];
  for (const [name, edit, re] of fieldCases)
    it.concurrent(`loadCheckpoint: ${name}`, async () => {
      loadFails(await tamper(`field-${name.replace(/\W+/g, '-')}`, 2, edit), re);
    });

  it.concurrent('a model file given as --resume: "looks like a model file", no bytes of it on stderr', async () => {
    await baseRun;
    const r = await run(['train', '-d', data, '--resume', path.join(base, 'final.bin'), '--out', path.join(dir, 'resume-bin')]);
    expectFailure(r, 2, /final\.bin is not a satrnn checkpoint JSON \(it looks like a model file; pass the checkpoint-epoch<e>\.json\)/);
  });

  it.concurrent('a text file, an empty file, a JSON array given as --resume', () => {
    loadFails(file('notes.txt', 'these are my notes\n'), /notes\.txt is not a satrnn checkpoint JSON \(it is not valid JSON/);
    loadFails(file('empty.json', ''), /empty\.json is not a satrnn checkpoint JSON \(it is empty/);
    loadFails(file('array.json', '[1, 2]'), /array\.json is not a satrnn checkpoint JSON \(it holds an array/);
  });

  it.concurrent('a train --json report given as --resume is named for what it is', async () => {
    const out = path.join(dir, 'report-run');
    const r = await run([...TINY, '--json', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const report = file('report.json', r.stdout);
    expectFailure(await run(['train', '-d', data, '--resume', report, '--out', path.join(dir, 'resume-report')]), 2, /report\.json is not a satrnn checkpoint JSON \(it is a `satrnn train --json` report, schema satrnn\.train\/2/);
  });

  it.concurrent('a --fast checkpoint resumed without --fast is refused, and the reverse', async () => {
    const fastCp = await tamper('kernels-fast', 1, (m) => (m.kernels = 'fast'));
    expectFailure(await resume(fastCp), 2, /--fast/);
    const exactCp = await tamper('kernels-exact', 1);
    expectFailure(await resume(exactCp, '--fast'), 2, /without --fast/);
  });

  it.skipIf(!(addon && selectBackend({ name: 'native' }).fastTraining)).concurrent('a real --fast run records its kernels; resuming it needs --fast', async () => {
    const out = path.join(dir, 'fast-run');
    const r = await run([...TINY, '--fast', '--checkpoint-every', '1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const cp = path.join(out, 'checkpoint-epoch1.json');
    expect(JSON.parse(readFileSync(cp, 'utf8')).kernels).toBe('fast');
    expectFailure(await run(['train', '-d', data, '--resume', cp, '--out', path.join(dir, 'fast-resumed')]), 2, /--fast/);
    const ok = await run(['train', '-d', data, '--resume', cp, '--fast', '--out', path.join(dir, 'fast-resumed2')]);
    expect(ok.status, ok.stderr).toBe(0);
  });

  it.concurrent('a schema 1 checkpoint still resumes, with a warning that its best copy and kernels cannot be checked', async () => {
    const cp = await tamper('schema1', 1, (m) => {
      m.schema = 'satrnn.checkpoint/1';
      delete m.bestSha256;
      delete m.kernels;
    });
    const r = await resume(cp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^satrnn: warning: .*checkpoint\/1.*(hash|sha256).*cannot be checked/m);
    // …but the model hash it did record is checked.
    const swapped = await tamper('schema1-swap', 1, (m) => {
      m.schema = 'satrnn.checkpoint/1';
      delete m.bestSha256;
      delete m.kernels;
    });
    copyFileSync(path.join(base, 'checkpoint-epoch2.bin'), path.join(path.dirname(swapped), 'checkpoint-epoch1.bin'));
    loadFails(swapped, /checkpoint-epoch1\.bin does not match its checkpoint .*sha256 differs/);
  });
});

describe('training output (CLI)', () => {
  it.concurrent('--out naming a folder of another run is refused unless --force; nothing of it replaced', async () => {
    const out = path.join(dir, 'shared-out');
    expect((await run([...TINY, '--out', out])).status).toBe(0);
    const before = sha(path.join(out, 'final.bin'));
    const r = await run([...TINY, '--seed', '7', '--out', out]);
    expectFailure(r, 2, /not empty.*--force/);
    expect(sha(path.join(out, 'final.bin'))).toBe(before);
    const forced = await run([...TINY, '--seed', '7', '--force', '--out', out]);
    expect(forced.status, forced.stderr).toBe(0);
    expect(sha(path.join(out, 'final.bin'))).not.toBe(before);
    // --resume may write into a non-empty folder: its checkpoint's own (the README example).
    const own = await tamper('own-folder', 1);
    const resumed = await run(['train', '-d', data, '--resume', own, '--out', path.dirname(own)]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(existsSync(path.join(path.dirname(own), 'final.bin'))).toBe(true);
  });

  it.concurrent('without --out, every run writes a fresh folder named on stderr', async () => {
    const cwd = path.join(dir, 'cwd');
    mkdirSync(cwd);
    const [a, b] = await Promise.all([run(TINY, { cwd }), run(TINY, { cwd })]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const folders = readdirSync(cwd).sort();
    expect(folders).toHaveLength(2);
    for (const f of folders) {
      expect(f).toMatch(/^satrnn-train-\d{8}-\d{6}-\d+$/);
      expect(readdirSync(path.join(cwd, f)).sort()).toEqual(['best.bin', 'final.bin']);
    }
    expect(`${a.stderr}${b.stderr}`).toContain(folders[0]);
    expect(`${a.stderr}${b.stderr}`).toContain(folders[1]);
  });

  it.concurrent('a failed run removes the --out folder it created and wrote nothing to', async () => {
    const out = path.join(dir, 'fail-fresh');
    expectFailure(await run([...TINY, '--backend', 'js', '--isa', 'scalar', '--out', out]), 2, /--isa/);
    expect(existsSync(out)).toBe(false);
    const deep = path.join(dir, 'fail-deep');
    expectFailure(await run([...TINY, '--lr', '3e38', '--clip', '3e38', '--out', path.join(deep, 'a', 'b')]), 1, /diverged at epoch 1\b/);
    expect(existsSync(deep)).toBe(false);
  });

  it.concurrent('a diverged run: exit 1, says so, best.bin = the last finite best, no final.bin, no NaN in any file', async () => {
    const out = path.join(dir, 'diverged');
    const r = await run(['train', '-d', data, '--hidden', '4', '--epochs', '10', '--lr', '3e36', '--clip', '3e38', '--checkpoint-every', '1', '--out', out]);
    expectFailure(r, 1, /diverged at epoch 2\b.*best\.bin.*epoch 1/);
    expect(readdirSync(out).sort()).toEqual(['best.bin', 'checkpoint-epoch1.best.bin', 'checkpoint-epoch1.bin', 'checkpoint-epoch1.json']);
    for (const f of readdirSync(out).filter((x) => x.endsWith('.bin'))) expect(() => parseModel(new Uint8Array(readFileSync(path.join(out, f))), f, { hidden: 4 })).not.toThrow();
    expect(sha(path.join(out, 'best.bin'))).toBe(sha(path.join(out, 'checkpoint-epoch1.best.bin')));
    // The epoch-1 checkpoint is sound: resuming it diverges again, at the same epoch.
    expectFailure(await run(['train', '-d', data, '--resume', path.join(out, 'checkpoint-epoch1.json'), '--out', out]), 1, /diverged at epoch 2\b/);
  });

  it.concurrent('a run diverged at epoch 1 (the issue\'s --lr 3e38 --clip 3e38): exit 1, no model, no folder left', async () => {
    const out = path.join(dir, 'diverged-1');
    const r = await run(['train', '-d', data, '--hidden', '4', '--epochs', '2', '--lr', '3e38', '--clip', '3e38', '--out', out]);
    expectFailure(r, 1, /diverged at epoch 1\b/);
    expect(existsSync(out)).toBe(false);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    it.concurrent(`${sig} during training: exit ${sig === 'SIGTERM' ? 143 : 130}, complete checkpoints, no temp file, the resume command named`, async () => {
      const out = path.join(dir, `signal-${sig}`);
      const slow = file(`slow-${sig}.txt`, randomText(4000, 5));
      const r = await run(['train', '-d', slow, '--hidden', '16', '--epochs', '100000', '--checkpoint-every', '1', '--out', out], {
        onStart: (child) => {
          const poll = setInterval(() => {
            if (existsSync(path.join(out, 'checkpoint-epoch1.json'))) {
              clearInterval(poll);
              child.kill(sig);
            }
          }, 10);
        },
      });
      expect(r.signal, r.stderr).toBe(null);
      expect(r.status, r.stderr).toBe(sig === 'SIGTERM' ? 143 : 130);
      expect(tempFiles(out)).toEqual([]);
      const jsons = readdirSync(out).filter((f) => f.endsWith('.json'));
      expect(jsons.length).toBeGreaterThan(0);
      for (const j of jsons) expect(() => loadCheckpoint(path.join(out, j))).not.toThrow();
      expect(r.stderr).toMatch(/--resume \S*checkpoint-epoch\d+\.json/);
      expect(existsSync(path.join(out, 'final.bin'))).toBe(false);
    }, 60_000);

  const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;
  it.skipIf(!canUnshare)('a read-only file system is reported as such (not ENOENT)', () => {
    const mnt = path.join(dir, 'ro');
    mkdirSync(mnt);
    const script = `set -e; mount -t tmpfs -o ro,size=64k tmpfs "$D"
      for out in "$D" "$D/x" "$D/x/y/z"; do
        st=0; ${process.execPath} ${bin} train -d ${data} --hidden 2 --epochs 1 --out "$out" 2>&1 || st=$?
        echo "status $st"
      done`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { env: { ...process.env, D: mnt }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l === 'status 1')).toHaveLength(3);
    const errors = lines.filter((l) => l.startsWith('satrnn: '));
    expect(errors).toHaveLength(3);
    for (const l of errors) {
      expect(l).toMatch(/^satrnn: cannot write to output folder .*read-only file system/i);
      expect(l).not.toMatch(/ENOENT|no such file/i);
    }
  });

  it.concurrent('--hidden 65536: exit 2 with the numbers (a model file over 2 GiB), nothing allocated', async () => {
    const r = await run(['train', '-d', data, '--hidden', '65536', '--epochs', '1', '--out', path.join(dir, 'huge')]);
    expectFailure(r, 2, /hidden 65536 is too large: its model file would be 17\.3 GB .*hidden is at most 22915/);
    expect(existsSync(path.join(dir, 'huge'))).toBe(false);
  });
});

describe('train() API: wrong types and checkpoints are SatrnnErrors, never TypeErrors', () => {
  const d = new Uint8Array(text);
  const rejectsWith = async (p: Promise<unknown>, code: string, re: RegExp): Promise<void> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'expected a rejection').toBeInstanceOf(SatrnnError);
    expect((err as SatrnnError).code).toBe(code);
    expect((err as SatrnnError).message).toMatch(re);
  };
  const bad = (o: unknown): Promise<unknown> => train(o as Parameters<typeof train>[0]);

  it('options of the wrong type', async () => {
    await rejectsWith(bad(undefined), 'BAD_OPTION', /options/);
    await rejectsWith(bad({ data: 'hello hello', epochs: 1 }), 'BAD_OPTION', /data must be a Uint8Array.*string/);
    await rejectsWith(bad({ data: [1, 2, 3], epochs: 1 }), 'BAD_OPTION', /data must be a Uint8Array.*array/);
    await rejectsWith(bad({ data: d, epochs: '3' }), 'BAD_OPTION', /epochs must be an integer.*string/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 4, onEpoch: 5 }), 'BAD_OPTION', /onEpoch must be a function/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 4, signal: {} }), 'BAD_OPTION', /signal must be an AbortSignal/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 4, evaluate: 'sometimes' }), 'BAD_OPTION', /evaluate/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 4, fast: 'yes' }), 'BAD_OPTION', /fast must be a boolean/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 4, resume: { schema: 'x' } }), 'BAD_OPTION', /resume/);
  });

  it('hidden 65536 is refused with the numbers, before anything is allocated', async () => {
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 65536 }), 'BAD_OPTION', /hidden 65536 .*17\.\d GB.*at most 22915/);
    await rejectsWith(bad({ data: d, epochs: 1, hidden: 30000 }), 'BAD_OPTION', /hidden 30000 .*GB.*at most 22915/);
  });

  it('the memory check: a hidden size whose training needs more than the machine has is refused', () => {
    const check = (experiment as unknown as { checkTrainingMemory: (h: number, bptt: number, n: number, total?: number) => void }).checkTrainingMemory;
    expect(typeof check).toBe('function');
    // H = 20000: 5 copies of 1.64 GB of weights; on a 4 GB machine that is refused.
    expect(() => check(20000, 50, 1000, 4e9)).toThrow(/hidden 20000 needs about 8\.\d GB.*4\.0 GB/);
    expect(() => check(128, 50, 1000, 4e9)).not.toThrow();
    try {
      check(20000, 50, 1000, 4e9);
    } catch (err) {
      expect((err as SatrnnError).code).toBe('BAD_OPTION');
    }
  });

  it('a diverged run rejects (with the last finite best attached), never returns NaN weights', async () => {
    const err = (await train({ data: d, hidden: 4, epochs: 10, lr: 3e36, clip: 3e38, backend: 'js' }).catch((e: unknown) => e)) as SatrnnError & { epoch?: number; best?: { epoch: number; model: { weights: Float32Array } } | null };
    expect(err).toBeInstanceOf(SatrnnError);
    expect(err.message).toMatch(/diverged at epoch 2\b/);
    expect(err.epoch).toBe(2);
    expect(err.best?.epoch).toBe(1);
    expect(err.best!.model.weights.every(Number.isFinite)).toBe(true);
  });

  it('a resume object that is not a valid checkpoint', async () => {
    const good: { cp?: TrainCheckpoint } = {};
    await train({ data: d, hidden: 4, epochs: 3, backend: 'js', onEpoch: (m, s: TrainState) => void (m.epoch === 1 && (good.cp = makeCheckpoint({ hidden: 4, epochs: 3, bptt: 50, lr: Math.fround(0.01), seed: 42, clip: 5 }, d, s))) });
    const cp = good.cp!;
    const w = (state: Partial<TrainState>): TrainCheckpoint => ({ ...cp, state: { ...cp.state, ...state } });
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: w({ bestBpc: NaN }) }), 'BAD_OPTION', /bestBpc/);
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: w({ epoch: -5 }) }), 'BAD_OPTION', /epoch/);
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: w({ weights: new Float32Array(3) }) }), 'BAD_OPTION', /weights/);
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: w({ weights: new Float32Array(paramCount(4)).fill(NaN) }) }), 'BAD_OPTION', /NaN|finite/);
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: w({ bestEpoch: 3 }) }), 'BAD_OPTION', /bestEpoch/);
    await rejectsWith(bad({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: { ...cp, state: { ...cp.state, kernels: 'fast' } } }), 'BAD_OPTION', /fast/);
    // The genuine one still resumes.
    const r = await train({ data: d, hidden: 4, epochs: 3, backend: 'js', resume: cp });
    expect(r.history.map((m) => m.epoch)).toEqual([2, 3]);
  });

  it('loadCheckpoint: a model file, a swapped weight file, a schema 1 file (warned)', async () => {
    await baseRun;
    expect(() => loadCheckpoint(path.join(base, 'final.bin'))).toThrow(/looks like a model file/);
    const cp = await tamper('api-swap', 1);
    copyFileSync(path.join(base, 'checkpoint-epoch3.bin'), path.join(path.dirname(cp), 'checkpoint-epoch1.bin'));
    expect(() => loadCheckpoint(cp)).toThrow(SatrnnError);
    const v1 = await tamper('api-v1', 1, (m) => {
      m.schema = 'satrnn.checkpoint/1';
      delete m.bestSha256;
      delete m.kernels;
    });
    const warnings: string[] = [];
    const loaded = loadCheckpoint(v1, { onWarning: (m) => warnings.push(m) });
    expect(loaded.state.epoch).toBe(1);
    expect(warnings.join('\n')).toMatch(/cannot be checked/);
    // saveCheckpoint then loadCheckpoint round-trips the kernels.
    const again = saveCheckpoint(loaded, path.join(path.dirname(v1), 'again'));
    expect(JSON.parse(readFileSync(again, 'utf8')).schema).toBe('satrnn.checkpoint/2');
  });
});
