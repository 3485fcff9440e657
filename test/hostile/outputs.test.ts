// Outputs under hostile conditions: `-o` is written through a temp file and a rename (a full
// disk or a read-only file system leaves the previous file untouched and no temp file), `-o`
// naming an input is refused, stdout on a closed pipe stops quietly (exit 0) and on a full
// device fails in one line (exit 1), and SIGTERM stops a run like Ctrl-C (exit 143).
// The full-disk and read-only cases mount a tiny tmpfs in a private mount namespace
// (`unshare -m`, root only): nothing outside the test's process tree sees the mount.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, repoRoot, tmpFiles } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const bin = path.join(repoRoot, 'bin', 'satrnn.js');
const { dir, file } = tmpFiles('satrnn-outputs-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

const model = file('m.bin', randomModel(3, 1).toBytes());
const data = file('t.txt', randomText(200, 2));
// A model with many neurons: `knockout --json` prints ~145 KB, more than a pipe holds (64 KB).
const wide = file('wide.bin', randomModel(600, 3).toBytes());
const small = file('small.txt', randomText(120, 4));
const folder = path.join(dir, 'models');
mkdirSync(folder);
writeFileSync(path.join(folder, 'a.bin'), randomModel(2, 5).toBytes());
writeFileSync(path.join(folder, 'b.bin'), randomModel(4, 6).toBytes());
const h128 = file('h128.bin', randomModel(128, 7).toBytes());
// A run that takes seconds (H = 128, 20,000 bytes, js on one thread): time to send a signal.
const big = file('big.bin', randomModel(128, 8).toBytes());
const bigText = file('big.txt', randomText(20000, 9));

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;
if (!canUnshare) console.warn('\n!!! not root or no `unshare -m`: the full-disk and read-only -o tests are SKIPPED !!!\n');

/** Files in a folder whose name marks them as satrnn temp files (none may be left behind). */
const tempFiles = (d: string): string[] => readdirSync(d).filter((f) => f.endsWith('.tmp') || f.startsWith('.'));

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs satrnn asynchronously; `onStart` may signal it, `stdout` may be a file descriptor. */
function run(args: string[], o: { onStart?: (child: ReturnType<typeof spawn>) => void; stdout?: number; closeStdoutAfter?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', o.stdout ?? 'pipe', 'pipe'], cwd: dir });
    let stdout = '';
    let stderr = '';
    let seen = 0;
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      seen += d.length;
      // Like `| head -c N`: read N bytes, then close the pipe while satrnn still writes.
      if (o.closeStdoutAfter !== undefined && seen >= o.closeStdoutAfter) child.stdout?.destroy();
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    o.onStart?.(child);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** stderr without the warnings a run may print first (random models have odd weights). */
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('satrnn: warning: '));

function expectOneLine(stderr: string, re: RegExp): void {
  const lines = errorLines(stderr);
  expect(stderr).not.toMatch(/\n\s+at |internal error|node:internal|Error:/);
  expect(lines, stderr).toHaveLength(1);
  expect(`${lines[0]}\n`).toMatch(re);
}

/**
 * Runs `script` (sh) in a private mount namespace with `$D` a fresh 256 KB tmpfs and `$B` the
 * CLI (`node bin/satrnn.js`); the script leaves its results in `$R`, a normal folder, returned.
 */
function inTmpfs(name: string, script: string): string {
  const mnt = path.join(dir, `${name}-mnt`);
  const res = path.join(dir, `${name}-res`);
  mkdirSync(mnt);
  mkdirSync(res);
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `set -e; mount -t tmpfs -o size=256k tmpfs "$D"; ${script}`], {
    env: { ...process.env, D: mnt, R: res, B: `${process.execPath} ${bin}` },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return res;
}

describe.skipIf(!canUnshare)('-o on a full disk and on a read-only file system', () => {
  it('full disk midway through the write: exit 1, one line, the previous file intact, no temp file', () => {
    // Fill the tmpfs, then free 8 KB: the ~145 KB report fails after its first pages.
    const res = inTmpfs(
      'full',
      `printf 'OLD REPORT\\n' > "$D/out.json"
       head -c 1048576 /dev/zero > "$D/fill" 2>/dev/null || true
       truncate -s -8192 "$D/fill"
       st=0; $B knockout -m ${wide} -d ${small} --json -o "$D/out.json" > "$R/stdout" 2> "$R/stderr" || st=$?
       echo $st > "$R/status"; cp "$D/out.json" "$R/after"; ls -A "$D" > "$R/listing"`,
    );
    const read = (f: string): string => readFileSync(path.join(res, f), 'utf8');
    expect(read('status').trim(), read('stderr')).toBe('1');
    expectOneLine(read('stderr'), /^satrnn: cannot write \S+out\.json: no space left on device \(the existing file is unchanged\)\n/);
    expect(read('after')).toBe('OLD REPORT\n');
    expect(read('listing').split('\n').filter(Boolean).sort()).toEqual(['fill', 'out.json']);
    expect(read('stdout')).toBe('');
  });

  it('read-only file system: exit 1, one line, the previous file intact (and no new file)', () => {
    const res = inTmpfs(
      'ro',
      `printf 'OLD\\n' > "$D/out.txt"
       mount -o remount,ro "$D"
       st=0; $B knockout -m ${model} -d ${data} -o "$D/out.txt" 2> "$R/stderr1" || st=$?; echo $st > "$R/status1"
       st=0; $B knockout -m ${model} -d ${data} -o "$D/new.txt" 2> "$R/stderr2" || st=$?; echo $st > "$R/status2"
       cp "$D/out.txt" "$R/after"; ls -A "$D" > "$R/listing"`,
    );
    const read = (f: string): string => readFileSync(path.join(res, f), 'utf8');
    for (const i of [1, 2]) {
      expect(read(`status${i}`).trim(), read(`stderr${i}`)).toBe('1');
      expectOneLine(read(`stderr${i}`), /^satrnn: cannot write \S+: read-only file system\n/);
    }
    expect(read('after')).toBe('OLD\n');
    expect(read('listing').trim()).toBe('out.txt');
  });
});

describe('-o naming an input is refused (exit 2, one line, the input untouched)', () => {
  // Each case gets its own copies: before the fix, `-o` overwrote them.
  let n = 0;
  const copy = (p: string): string => {
    const q = path.join(dir, `victim${++n}-${path.basename(p)}`);
    copyFileSync(p, q);
    return q;
  };
  const cases: [string, () => { args: string[]; inputs: string[] }][] = [
    ['knockout -o the model', () => {
      const m = copy(model);
      return { args: ['knockout', '-m', m, '-d', data, '-o', m], inputs: [m] };
    }],
    ['knockout -o the data', () => {
      const d = copy(data);
      return { args: ['knockout', '-m', model, '-d', d, '--csv', '-o', d], inputs: [d] };
    }],
    ['knockout -o the model by another spelling', () => {
      const m = copy(model);
      return { args: ['knockout', '-m', m, '-d', data, '-o', path.join(dir, '.', 'models', '..', path.basename(m))], inputs: [m] };
    }],
    ['knockout -o a relative path to the model', () => {
      const m = copy(model);
      return { args: ['knockout', '-m', m, '-d', data, '-o', path.relative(process.cwd(), m)], inputs: [m] };
    }],
    ['knockout -o a model of a folder', () => {
      const f = path.join(dir, `victim-folder${++n}`);
      mkdirSync(f);
      copyFileSync(path.join(folder, 'a.bin'), path.join(f, 'a.bin'));
      copyFileSync(path.join(folder, 'b.bin'), path.join(f, 'b.bin'));
      return { args: ['knockout', '-m', f, '-d', data, '--json', '-o', path.join(f, 'b.bin')], inputs: [path.join(f, 'a.bin'), path.join(f, 'b.bin')] };
    }],
    ['knockout -o a symlink to the model', () => {
      const m = copy(model);
      const link = path.join(dir, `victim-link${++n}.bin`);
      symlinkSync(m, link);
      return { args: ['knockout', '-m', m, '-d', data, '-o', link], inputs: [m] };
    }],
    ['knockout -o a hard link to the model', () => {
      const m = copy(model);
      const link = path.join(dir, `victim-hard${++n}.bin`);
      linkSync(m, link);
      return { args: ['knockout', '-m', m, '-d', data, '-o', link], inputs: [m] };
    }],
    ['reproduce -o its model', () => {
      const m = copy(h128);
      return { args: ['reproduce', 'q3_neurons', data, m, '-o', m], inputs: [m] };
    }],
    ['reproduce -o its data', () => {
      const d = copy(data);
      return { args: ['reproduce', 'q5_redux', d, h128, '-o', d], inputs: [d] };
    }],
  ];
  for (const [name, make] of cases)
    it(name, () => {
      const { args, inputs } = make();
      const before = inputs.map(sha);
      const r = cli(...args);
      expect(r.status, r.stderr).toBe(2);
      expectOneLine(r.stderr, /^satrnn: refusing to write .*: it is the input /);
      expect(inputs.map(sha)).toEqual(before);
      expect(tempFiles(dir)).toEqual([]);
    });
});

describe('-o into a missing folder, a folder, or through a link', () => {
  it('missing folder: exit 2, one line naming it, nothing created', () => {
    const out = path.join(dir, 'no', 'such', 'x.txt');
    const r = cli('knockout', '-m', model, '-d', data, '-o', out);
    expect(r.status).toBe(2);
    expectOneLine(r.stderr, /^satrnn: cannot write .*x\.txt: folder .* does not exist/);
    expect(existsSync(path.join(dir, 'no'))).toBe(false);
  });
  it('a folder: exit 2, one line', () => {
    const r = cli('knockout', '-m', model, '-d', data, '-o', folder);
    expect(r.status).toBe(2);
    expectOneLine(r.stderr, /^satrnn: cannot write .*models: it is a folder/);
  });
  it('a file used as a folder: exit 2, one line', () => {
    const r = cli('knockout', '-m', model, '-d', data, '-o', path.join(data, 'x.txt'));
    expect(r.status).toBe(2);
    expectOneLine(r.stderr, /^satrnn: cannot write .*x\.txt: .* is not a folder/);
  });
  it('over an existing file: replaced whole, its permissions kept, no temp file left', () => {
    const out = file('keep-mode.txt', 'OLD\n');
    chmodSync(out, 0o640);
    const r = cli('knockout', '-m', model, '-d', data, '--csv', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(cli('knockout', '-m', model, '-d', data, '--csv').stdout);
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(tempFiles(dir)).toEqual([]);
  });
  it('through a symlink: the link is kept and its target written', () => {
    const target = file('sym-target.txt', 'OLD\n');
    const link = path.join(dir, 'sym-out.txt');
    symlinkSync(target, link);
    const r = cli('knockout', '-m', model, '-d', data, '--csv', '-o', link);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toMatch(/^model_file,rank,/);
  });
});

describe('devices: -o to a null or full device, stdout to a full device or a closed pipe', () => {
  // As root, device nodes of our own (mknod) stand for /dev/null and /dev/full: a bug that
  // renamed over a device would then break only the test's folder.
  const dev = (name: string, minor: number, fallback: string): string => {
    if (!isRoot) return fallback;
    const p = path.join(dir, name);
    if (!existsSync(p)) expect(spawnSync('mknod', [p, 'c', '1', String(minor)]).status).toBe(0);
    return p;
  };
  const devNull = dev('null-dev', 3, '/dev/null');
  const devFull = dev('full-dev', 7, '/dev/full');

  it('-o to a null device: exit 0, still a device', () => {
    const r = cli('knockout', '-m', model, '-d', data, '-o', devNull);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(devNull).isCharacterDevice()).toBe(true);
  });
  it('-o to a full device: exit 1, one line, still a device', () => {
    const r = cli('knockout', '-m', model, '-d', data, '-o', devFull);
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, /^satrnn: cannot write \S+: no space left on device\n/);
    expect(statSync(devFull).isCharacterDevice()).toBe(true);
  });
  it('stdout to a full device (`> /dev/full`), output larger than a pipe: exit 1, one line', async () => {
    for (const args of [['knockout', '-m', wide, '-d', small, '--json'], ['knockout', '-m', model, '-d', data], ['info']]) {
      const fd = openSync(devFull, 'w');
      const r = await run(args, { stdout: fd });
      closeSync(fd);
      expect(r.signal).toBe(null);
      expect(r.status, r.stderr).toBe(1);
      expectOneLine(r.stderr, /^satrnn: cannot write to stdout: no space left on device/);
    }
  });
  // A pipe another program left non-blocking (O_NONBLOCK is shared by every process on it):
  // satrnn writes stdout with write(2) until the full pipe answers EAGAIN, then through
  // Node's stream, which waits for the reader. python3 sets the flag (Node resets stdio to
  // blocking for the children it spawns).
  const hasPython = spawnSync('python3', ['-c', 'import fcntl']).status === 0;
  it.skipIf(!hasPython)('stdout on a non-blocking pipe with a slow reader, output larger than the pipe: all of it, in order', () => {
    const args = ['knockout', '-m', wide, '-d', small, '--json'];
    const direct = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
    expect(direct.status, direct.stderr).toBe(0);
    expect(direct.stdout.length).toBeGreaterThan(1 << 17);
    const res = path.join(dir, 'nonblocking');
    const setNonblock = 'import fcntl, os, sys; fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK); os.execvp(sys.argv[1], sys.argv[1:])';
    const r = spawnSync('sh', ['-c', `( python3 -c "$P" "$@" 2> "$R.stderr"; echo $? > "$R.status" ) | ( sleep 1; cat > "$R.out" )`, 'sh', process.execPath, bin, ...args], {
      env: { ...process.env, R: res, P: setNonblock },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(readFileSync(`${res}.status`, 'utf8').trim(), readFileSync(`${res}.stderr`, 'utf8')).toBe('0');
    expect(readFileSync(`${res}.out`, 'utf8') === direct.stdout).toBe(true);
  });
  it('stdout on a pipe closed after one byte (`| head -c1`), output larger than the pipe: exit 0, quiet', () => {
    for (const fmt of ['--json', '--csv']) {
      const res = path.join(dir, `epipe${fmt}`);
      const r = spawnSync('sh', ['-c', `( "$@" 2> "$R.stderr"; echo $? > "$R.status" ) | head -c1 > /dev/null`, 'sh', process.execPath, bin, 'knockout', '-m', wide, '-d', small, fmt], {
        env: { ...process.env, R: res },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status).toBe(0);
      expect(errorLines(readFileSync(`${res}.stderr`, 'utf8'))).toEqual([]);
      expect(readFileSync(`${res}.status`, 'utf8').trim()).toBe('0');
    }
  });
});

describe('SIGTERM', () => {
  it('during a knockout with -o over an existing file: exit 143, one line, the file intact, no temp file', async () => {
    const out = file('sigterm-out.txt', 'OLD\n');
    const r = await run(['knockout', '-m', big, '-d', bigText, '--backend', 'js', '--threads', '1', '-o', out], {
      onStart: (child) => setTimeout(() => child.kill('SIGTERM'), 1500),
    });
    expect(r.signal).toBe(null);
    expect(r.status).toBe(143);
    expectOneLine(r.stderr, /^satrnn: terminated \(SIGTERM\)\n/);
    expect(readFileSync(out, 'utf8')).toBe('OLD\n');
    expect(tempFiles(dir)).toEqual([]);
    expect(r.stdout).toBe('');
  }, 60_000);
  it('during a knockout to stdout: exit 143, nothing on stdout', async () => {
    const r = await run(['knockout', '-m', big, '-d', bigText, '--backend', 'js', '--threads', '1'], {
      onStart: (child) => setTimeout(() => child.kill('SIGTERM'), 1500),
    });
    expect(r.signal).toBe(null);
    expect(r.status).toBe(143);
    expect(r.stdout).toBe('');
  }, 60_000);
});
