// The satrnn CLI as a whole: bad files, commands and options exit non-zero with one line
// naming the problem (no stack trace), --help/--version/--list exit 0, Ctrl-C exits 130.
// Command-specific CLI tests live with their program (test/programs/<name>.test.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { paramCount } from '../lib/model.js';
import { cli, expectCleanFailure, repoRoot, tmpFiles } from './helpers.js';
import { randomModel, randomText } from './models.js';

const { dir, file } = tmpFiles('satrnn-cli-');
const floats = (n: number, v = 0.01): Uint8Array => new Uint8Array(new Float32Array(n).fill(v).buffer);

const goodModel = file('good.bin', floats(paramCount(128)));
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
const smallModel = file('small.bin', randomModel(3, 5).toBytes());

describe('CLI: bad model and data files exit 2 with a clear message', () => {
  it('missing data file', () => expectCleanFailure(cli('reproduce', 'q3_neurons', path.join(dir, 'nope.txt'), goodModel), 2, /data file not found: .*nope\.txt/));
  it('missing model file', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, path.join(dir, 'nope.bin')), 2, /model file not found/));
  it('short model', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, shortModel), 2, /329176 bytes.*needs 329216.*truncated/));
  it('model size that matches no H', () => expectCleanFailure(cli('knockout', '--model', oddModel, '--data', text), 2, /4000 bytes is not the size of any sat-rnn model/));
  it('NaN weight', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, nanModel), 2, /weight Wx\[.*\]|weight Wh\[.*\] is NaN/));
  it('Inf weight (modern command, any H)', () => expectCleanFailure(cli('knockout', '--model', infModel, '--data', text), 2, /weight Wx\[0\]\[3\] is -Infinity/));
  it('empty data', () => expectCleanFailure(cli('reproduce', 'q3_neurons', emptyData, goodModel), 2, /0 bytes of data; at least 2 needed/));
  it('one-byte data', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', oneByte), 2, /1 byte of data; at least 2 needed/));
  it('data path is a folder', () => expectCleanFailure(cli('reproduce', 'q3_neurons', dir, goodModel), 2, /is a folder/));
});

describe('CLI: bad commands and options exit 2 with a clear message', () => {
  it('unknown program', () => expectCleanFailure(cli('reproduce', 'q9_nothing', text, goodModel), 2, /unknown program 'q9_nothing'/));
  it('no program', () => expectCleanFailure(cli('reproduce'), 2, /missing program name/));
  it('bad --backend', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, goodModel, '--backend', 'gpu'), 2, /--backend must be native or js/));
  it('bad --isa', () => expectCleanFailure(cli('reproduce', 'q3_neurons', text, goodModel, '--isa', 'sse9'), 2, /--isa must be avx512, avx2, sse2 or scalar/));
  it('bad --threads', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '--threads', '0'), 2, /expected an integer from 1 to 256/));
  it('unknown option', () => expectCleanFailure(cli('knockout', '--frobnicate'), 2, /unknown option/));
  it('unknown command', () => expectCleanFailure(cli('frobnicate'), 2, /unknown command/));
});

describe('CLI: every error is one line starting `satrnn: `', () => {
  const oneLine = (args: string[], re: RegExp): void => {
    const r = cli(...args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^satrnn: [^\n]+\n$/);
    expect(r.stderr).toMatch(re);
    expect(r.stdout).toBe('');
  };
  it('unknown option, with where to find the usage', () => oneLine(['knockout', '--frobnicate'], /^satrnn: unknown option '--frobnicate' \(see `satrnn knockout --help`\)\n$/));
  it('a misspelt option and its suggestion', () => oneLine(['knockout', '--mdoel', goodModel], /unknown option '--mdoel' \(Did you mean --model\?\)/));
  it('unknown command', () => oneLine(['frobnicate'], /^satrnn: unknown command 'frobnicate' \(see `satrnn --help`\)/));
  it('bad option value', () => oneLine(['knockout', '--top', 'x'], /^satrnn: option '--top <n>' argument 'x' is invalid/));
  it("an option parser's own error names the option", () => oneLine(['train', '--lr', 'x'], /^satrnn: option '--lr <x>' argument 'x' is invalid\. expected a positive number/));
  it('missing program name', () => oneLine(['reproduce'], /^satrnn: missing program name/));
  it('no command at all: one line naming the commands', () => {
    for (const args of [[], ['--debug']]) oneLine(args, /^satrnn: missing command: .*knockout.*train.*info/);
  });
});

describe('CLI: output, help and listings', () => {
  it('-o - is stdout (as -d - is stdin): no file named -', () => {
    const r = cli('knockout', '-m', smallModel, '-d', text, '--csv', '-o', '-');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model_file,rank,/);
    expect(existsSync(path.join(process.cwd(), '-'))).toBe(false);
  });
  it('reproduce --list -o writes the listing to the file', () => {
    const out = path.join(dir, 'list.txt');
    const r = cli('reproduce', '--list', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toMatch(/^q3_neurons\s+<data> <model>/m);
  });
  it('-o into a missing folder: exit 2 (bad usage), before any work', () =>
    expectCleanFailure(cli('knockout', '--model', goodModel, '--data', text, '-o', path.join(dir, 'no', 'such', 'dir', 'x.txt')), 2, /cannot write .*x\.txt: folder .*dir does not exist/));
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
});

describe('CLI: Ctrl-C', () => {
  it('SIGINT stops a long run cleanly: exit 130, one line, no partial output', async () => {
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
