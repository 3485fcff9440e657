// A fuzz of the CLI's flags (fast-check, fixed seed): every command (knockout, train,
// reproduce, info) with random flags from the real set plus junk, and hostile values
// (negative, huge, NaN, empty, non-numeric, missing files and folders, folders, devices,
// duplicates). Whatever comes in, satrnn must:
// - exit 0, 2, or 1 for a genuine runtime failure (a write that failed): never 130 or 143,
//   never killed by a signal, never an "internal error";
// - on failure, print one line `satrnn: <what is wrong>` (warnings and the progress lines of
//   `train` aside), never a stack trace (unless --debug);
// - leave `-o` complete or absent (an old file untouched when the run fails), no temp file
//   anywhere, every input byte for byte as it was, and device nodes still devices.
// Each case runs in a fresh folder with tiny inputs (random models H = 2..4, short texts,
// `train --epochs 1`). Values that would make a valid run slow (train --hidden 65536,
// --epochs 1e9, --threads 256) or endless (a model or data file that is /dev/zero) are left
// out: they are valid requests, not hostile ones. 48 runs by default, 240 with SATRNN_FULL=1.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const FULL = process.env.SATRNN_FULL === '1';
const BATCH = 3; // cases run side by side in one property run
const RUNS = FULL ? 80 : 16; // property runs: 48 CLI runs by default, 240 with SATRNN_FULL=1
const SEED = 20240601;
const bin = path.join(repoRoot, 'bin', 'satrnn.js');

// Shared, read-only inputs: an H = 128 model (the reproduce layer's size) and, as root, device
// nodes of our own standing for /dev/null and /dev/full (a bug renaming over them would then
// break only this folder, not the machine's /dev).
const shared = mkdtempSync(path.join(os.tmpdir(), 'satrnn-fuzz-shared-'));
const h128 = path.join(shared, 'h128.bin');
writeFileSync(h128, randomModel(128, 77).toBytes());
const isRoot = process.getuid?.() === 0;
function device(name: string, minor: number, fallback: string): string {
  if (!isRoot) return fallback;
  const p = path.join(shared, name);
  if (spawnSync('mknod', [p, 'c', '1', String(minor)]).status !== 0) return fallback;
  return p;
}
const devNull = device('null', 3, '/dev/null');
const devFull = device('full', 7, '/dev/full');
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const h128Sha = sha(h128);
afterAll(() => rmSync(shared, { recursive: true, force: true }));

/** A fresh case folder: a tiny model, a folder of two, texts, an old report, a bad checkpoint. */
function fixture(seed: number): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'satrnn-fuzz-'));
  const r = (k: number): number => 2 + ((seed >>> k) % 3);
  writeFileSync(path.join(d, 'm.bin'), randomModel(r(0), seed).toBytes());
  mkdirSync(path.join(d, 'models'));
  writeFileSync(path.join(d, 'models', 'a.bin'), randomModel(r(3), seed + 1).toBytes());
  writeFileSync(path.join(d, 'models', 'b.bin'), randomModel(r(6), seed + 2).toBytes());
  writeFileSync(path.join(d, 't.txt'), randomText(20 + (seed % 200), seed + 3));
  writeFileSync(path.join(d, 'empty.txt'), '');
  writeFileSync(path.join(d, 'one.txt'), 'x');
  writeFileSync(path.join(d, 'old.txt'), 'OLD\n');
  writeFileSync(path.join(d, 'bad.json'), '{"schema": "nope"}\n');
  mkdirSync(path.join(d, 'sat'));
  return d;
}
/** The files whose bytes no run may change. */
const INPUTS = ['m.bin', 'models/a.bin', 'models/b.bin', 't.txt', 'empty.txt', 'one.txt', 'bad.json'];

// Symbolic values, resolved in the case folder.
const PATHS: Record<string, (d: string) => string> = {
  '@model': (d) => path.join(d, 'm.bin'),
  '@models': (d) => path.join(d, 'models'),
  '@model-a': (d) => path.join(d, 'models', 'a.bin'),
  '@data': (d) => path.join(d, 't.txt'),
  '@empty': (d) => path.join(d, 'empty.txt'),
  '@one': (d) => path.join(d, 'one.txt'),
  '@old': (d) => path.join(d, 'old.txt'),
  '@new': (d) => path.join(d, 'new.txt'),
  '@unicode': (d) => path.join(d, 'ü ñ — report.txt'),
  '@missing': (d) => path.join(d, 'missing.bin'),
  '@missing-dir': (d) => path.join(d, 'no', 'such', 'x.txt'),
  '@dir': (d) => d,
  '@file-as-dir': (d) => path.join(d, 't.txt', 'x'),
  '@bad-json': (d) => path.join(d, 'bad.json'),
  '@h128': () => h128,
  '@dev-null': () => devNull,
  '@dev-full': () => devFull,
  '@sat': () => path.join('sat', 'p'),
  '@out': (d) => path.join(d, 'out'),
  '@out-deep': (d) => path.join(d, 'a', 'b', 'c'),
};
const resolve = (v: string, d: string): string => PATHS[v]?.(d) ?? v;

const oneOf = <T,>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const JUNK_NUM = ['-1', '0', '-0', 'NaN', 'Infinity', '-Infinity', '', 'abc', '1e3', '0x10', '1.5', '+3', '٣', '99999999999999999999', '9'.repeat(400)];
const junkNum = oneOf(...JUNK_NUM);
/** A valid value (3 times in 4) or junk. */
const num = (...valid: string[]): fc.Arbitrary<string> => fc.oneof({ arbitrary: oneOf(...valid), weight: 3 }, { arbitrary: junkNum, weight: 1 });
const pick = (valid: string[], junk: string[]): fc.Arbitrary<string> => fc.oneof({ arbitrary: oneOf(...valid), weight: 3 }, { arbitrary: oneOf(...junk), weight: 1 });
const flag = (name: string, value: fc.Arbitrary<string>): fc.Arbitrary<string[]> => value.map((v) => [name, v]);
const bare = (name: string): fc.Arbitrary<string[]> => fc.constant([name]);
const junkFlag = oneOf(['--frobnicate'], ['-x'], ['--'], ['---'], ['-'], ['--model='], ['--top=3'], ['--json=1'], ['--no-json'], ['-mo'], ['--output'], ['--data'], ['--debug'], ['extra'], ['%s%n'], ['']);
const backend = [flag('--backend', pick(['native', 'js'], ['gpu', '', 'JS'])), flag('--isa', pick(['avx512', 'avx2', 'sse2', 'scalar'], ['sse9', ''])), flag('--threads', num('1', '2', '4'))];
const outputs = pick(['@new', '@old', '@unicode', '-'], ['@missing-dir', '@dir', '@file-as-dir', '@dev-null', '@dev-full', '@model', '@model-a', '@data', '']);
const dataValues = pick(['@data', '-'], ['@empty', '@one', '@missing', '@dir', '@dev-null', '']);

const flagsOf = (arbs: fc.Arbitrary<string[]>[], max = 6): fc.Arbitrary<string[]> =>
  fc.array(fc.oneof({ arbitrary: fc.oneof(...arbs), weight: 12 }, { arbitrary: junkFlag, weight: 1 }), { maxLength: max }).map((xs) => xs.flat());

const knockout = fc
  .tuple(
    pick(['@model', '@models', '@model-a'], ['@missing', '@dir', '@empty', '@data', '@dev-null']),
    flagsOf([
      flag('-m', pick(['@model', '@models'], ['@missing', '@one'])),
      flag('--model', oneOf('@model-a', '@dir')),
      flag('-d', dataValues),
      flag('--data', dataValues),
      flag('--top', num('1', '2', '65536', '65537')),
      bare('--json'),
      bare('--csv'),
      flag('-o', outputs),
      flag('--output', outputs),
      ...backend,
    ]),
  )
  .map(([m, rest]) => ['knockout', '-m', m, ...rest]);

const train = flagsOf(
  [
    flag('-d', dataValues),
    flag('--hidden', num('1', '2', '3', '4', ' 2')),
    flag('--epochs', num('1', ' 1')),
    flag('--bptt', num('1', '3', '50', '1048576', '1048577')),
    flag('--lr', num('0.5', '1e-300', '1e308', '5')),
    flag('--seed', num('0', '42', '4294967295', '4294967296')),
    flag('--clip', num('0.1', '5', '1e308')),
    flag('--checkpoint-every', num('1', '2')),
    flag('--out', pick(['@out', '@out-deep', '@models'], ['@old', '@dev-null', '', '@file-as-dir'])),
    flag('--evaluate', pick(['reported', 'every', 'never'], ['sometimes', ''])),
    flag('--eval', oneOf('reported', 'never', 'x')),
    bare('--json'),
    bare('--fast'),
    ...backend,
  ],
  5,
).chain((rest) =>
  // --resume with a file that is no checkpoint, now and then
  fc
    .oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: oneOf('@missing', '@data', '@model', '@dir', '@dev-null', '@empty', '@bad-json'), weight: 1 })
    .map((r) => ['train', '--epochs', '1', '--hidden', '2', ...rest, ...(r === null ? [] : ['--resume', r])]),
);

const reproduceArgs = fc.oneof(
  {
    // <data> <model>, now and then one argument too few or too many
    arbitrary: fc
      .tuple(oneOf('q3_neurons', 'q5_redux'), pick(['@data'], ['@h128', '@missing', '@dir', '@dev-null', '@empty', '@one']), pick(['@h128'], ['@model', '@data', '@missing', '@dev-null']), oneOf(2, 2, 2, 1, 3))
      .map(([p, d, m, n]) => [p, ...[d, m, '@data'].slice(0, n)]),
    weight: 4,
  },
  {
    arbitrary: fc.tuple(pick(['@data'], ['@one', '@missing', '@dir']), pick(['@sat'], ['no/such/p', '']), num('1', '2'), fc.array(num('1'), { maxLength: 1 })).map(([d, p, e, k]) => ['sat_train', d, p, e, ...k]),
    weight: 3,
  },
  { arbitrary: fc.array(oneOf('q9_nothing', '', '@data', '--list'), { minLength: 1, maxLength: 2 }), weight: 1 },
);
const reproduce = fc
  .tuple(reproduceArgs, flagsOf([flag('-o', outputs), flag('--output', outputs), bare('--list'), flag('--backend', oneOf('native', 'gpu', '')), flag('--isa', oneOf('avx2', 'scalar', 'sse9')), flag('--threads', num('1', '2'))], 3))
  .map(([a, f]) => ['reproduce', ...a, ...f]);

const info = flagsOf([...backend.slice(0, 2), bare('--json'), flag('-o', outputs)], 4).map((f) => ['info', ...f]);
const top = fc.oneof(
  oneOf(['--help'], ['--version'], [], ['frobnicate'], ['knockout', '--help'], ['train', '--help']),
  fc.array(junkFlag, { maxLength: 3 }).map((j) => j.flat()),
);

const caseArb = fc.record({
  args: fc.oneof({ arbitrary: knockout, weight: 4 }, { arbitrary: train, weight: 3 }, { arbitrary: reproduce, weight: 3 }, { arbitrary: info, weight: 1 }, { arbitrary: top, weight: 1 }),
  stdin: oneOf('', 'some text on stdin\n'),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});
type Case = { args: string[]; stdin: string; seed: number };

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runCli(args: string[], cwd: string, stdin: string): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, SATRNN_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 60_000);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.on('error', () => {}); // satrnn may exit without reading stdin
    child.stdin.end(stdin);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** Every file under a folder (relative paths). */
function walk(d: string, rel = ''): string[] {
  return readdirSync(path.join(d, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(d, path.join(rel, e.name)) : [path.join(rel, e.name)]));
}

/** The value commander keeps for an option given several times: the last one. */
function lastValue(args: string[], names: string[]): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < args.length - 1; i++) if (names.includes(args[i]!)) v = args[i + 1];
  return v;
}

async function check(c: Case): Promise<void> {
  const d = fixture(c.seed);
  const args = c.args.map((a) => resolve(a, d));
  const before = new Map(INPUTS.map((f) => [f, sha(path.join(d, f))]));
  const r = await runCli(args, d, c.stdin);
  const what = `satrnn ${args.map((a) => JSON.stringify(a)).join(' ')}\nstatus ${r.status} signal ${r.signal}\nstderr:\n${r.stderr}`;
  if (process.env.SATRNN_FUZZ_LOG) console.log(`[${r.status}] ${c.args.join(' ')}\n    ${r.stderr.trim().split('\n').pop()}`);
  expect(r.timedOut, what).toBe(false);
  expect(r.signal, what).toBe(null);
  expect([0, 1, 2], what).toContain(r.status);

  const debug = args.includes('--debug');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  // Warnings and train's progress lines may come before anything; the rest is the error.
  const rest = lines.filter((l) => !/^satrnn: warning: /.test(l) && !/^epoch \d+\/\d+ /.test(l) && !/^\r/.test(l));
  expect(r.stderr, what).not.toMatch(/internal error|node:internal|Unhandled|ERR_/);
  if (!debug) expect(r.stderr, what).not.toMatch(/\n\s+at /);
  if (r.status === 0) expect(rest, what).toEqual([]);
  else if (!debug) {
    expect(rest, what).toHaveLength(1);
    expect(rest[0], what).toMatch(/^satrnn: \S/);
  }
  // 1 only for a write that failed (a full device, a file where a folder is needed, ...).
  if (r.status === 1) expect(rest[0], what).toMatch(/^satrnn: cannot write/);

  // Inputs unchanged, devices still devices, no temp files anywhere in the case folder.
  for (const [f, h] of before) expect(sha(path.join(d, f)), `${f} changed\n${what}`).toBe(h);
  expect(sha(h128), what).toBe(h128Sha);
  for (const dev of [devNull, devFull]) expect(statSync(dev).isCharacterDevice(), what).toBe(true);
  const temps = walk(d).filter((f) => /\.tmp$/.test(f) || /(^|\/)\.[^/]*\.\d+\./.test(f));
  expect(temps, what).toEqual([]);

  // -o (the last one given) holds a complete output or is as it was.
  const out = ['knockout', 'reproduce'].includes(args[0]!) ? lastValue(args, ['-o', '--output']) : undefined;
  if (out !== undefined && out !== '' && out.startsWith(d) && !args.includes('--help')) {
    const text = existsSync(out) && statSync(out).isFile() ? readFileSync(out, 'utf8') : undefined;
    if (r.status === 0) {
      expect(text, what).toBeDefined();
      expect(text!.endsWith('\n') || text === '', what).toBe(true);
      if (args[0] === 'knockout' && args.includes('--json')) expect(() => JSON.parse(text!), what).not.toThrow();
      expect(r.stdout, what).toBe('');
    } else if (out === path.join(d, 'old.txt')) {
      expect(text, what).toBe('OLD\n');
    } else if (out === path.join(d, 'new.txt') || out.includes('ü ñ')) {
      expect(text, what).toBeUndefined();
    }
  }
  rmSync(d, { recursive: true, force: true }); // kept when a check fails, to look at
}

describe('CLI fuzz: random flags and hostile values', () => {
  it(`${RUNS * BATCH} runs: exit 0/1/2, one line, no stack trace, no half-written output`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        await Promise.all(cases.map(check));
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, FULL ? 1_800_000 : 400_000);
});
