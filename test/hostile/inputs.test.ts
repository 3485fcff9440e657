// Hostile inputs: endless and special files (/dev/zero, /dev/urandom, FIFOs, stdin), symlink
// loops, folders, unreadable files, huge sparse files, and Ctrl-C during long reads. Every
// case ends quickly with exit 2 and a one-line message, or runs in bounded memory and stops
// on SIGINT with exit 130 (README "Failure behaviour"). CLI runs are child processes whose
// peak RSS is sampled from /proc/<pid>/status; API cases call lib/ directly.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, createWriteStream, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { loadData } from '../../lib/data.js';
import { blocks } from '../../lib/engine/source.js';
import { SatrnnError } from '../../lib/errors.js';
import { hiddenFromParamCount, loadModel } from '../../lib/model.js';
import { readOriginalData, readOriginalModel } from '../../lib/programs/original-io.js';
import { addon, repoRoot, tmpFiles } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const { dir, file } = tmpFiles('satrnn-hostile-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isLinux = process.platform === 'linux';
if (!isLinux) console.warn('\n!!! not Linux: the hostile-input tests (/proc, /dev/zero, mkfifo) are SKIPPED !!!\n');
const BACKENDS = addon ? (['native', 'js'] as const) : (['js'] as const);
if (!addon) console.warn('\n!!! native addon not built: hostile-input tests run on the js backend only !!!\n');

const small = file('small.bin', randomModel(8, 1).toBytes());
const ref = file('ref.bin', randomModel(128, 2).toBytes()); // H = 128, as the originals need
const text = file('text.txt', randomText(3000, 3));

// Special files made here: a FIFO, a symlink loop, a folder, a file in place of a folder,
// and huge sparse files (no disk used).
const fifo = path.join(dir, 'fifo');
spawnSync('mkfifo', [fifo]);
const loop = path.join(dir, 'loop');
symlinkSync(path.join(dir, 'loop2'), loop);
symlinkSync(loop, path.join(dir, 'loop2'));
const folder = path.join(dir, 'folder');
mkdirSync(folder);
const notDir = path.join(text, 'x.bin'); // ENOTDIR: text.txt is a file
const tooLong = path.join(dir, 'n'.repeat(300)); // ENAMETOOLONG
const sparse = (name: string, size: number): string => {
  const p = file(name, '');
  truncateSync(p, size);
  return p;
};
const sparse4G = sparse('sparse-4G.bin', 4 * 2 ** 30);
// 1.5 GiB: under Node's 2 GiB readFileSync limit (so an unchecked read really reads it) and
// the size of no model.
const SPARSE_MID = 1.5 * 2 ** 30;
const sparseMid = sparse('sparse-1.5G.bin', SPARSE_MID);

/** Peak resident memory allowed for any of these runs (a normal run stays near 100 MB). */
const RSS_LIMIT_KB = 600 * 1024;

interface Run {
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak VmRSS (kB) seen while it ran (0 where /proc is missing). */
  peakKb: number;
  /** Milliseconds from start (or from the SIGINT, when one was sent) to exit. */
  ms: number;
  /** True when it had to be killed at the deadline. */
  killed: boolean;
}

interface RunOptions {
  /** stdin: a file descriptor, or bytes to pipe in, or a function writing to the pipe. */
  stdin?: number | Uint8Array | ((w: NodeJS.WritableStream) => void);
  /**
   * Send SIGINT this many ms after the CLI has started its work: once it has `openedFile`
   * open, or (without it) once it has used 0.8 s of CPU. (A SIGINT during Node's start-up,
   * before the CLI's handler exists, would kill it by the default action; on a busy machine
   * start-up takes seconds of wall time but always about 0.3 s of CPU.)
   */
  sigintAfter?: number;
  openedFile?: string;
  /** Kill (SIGKILL) after this many ms: a run still alive then failed. */
  deadline?: number;
  /** Run without root's permission overrides (CAP_DAC_*): 000 files are unreadable even to root. */
  unprivileged?: boolean;
}

/** Whether process `pid` has `file` open, or (no file given) has used 0.8 s of CPU. */
function started(pid: number, file: string | undefined): boolean {
  if (file !== undefined) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true;
      } catch {
        // closed meanwhile
      }
    }
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100 >= 0.8; // utime + stime, in clock ticks (100 Hz)
}

/** Runs `satrnn <args>` in a child process, sampling its RSS; never hangs past `deadline`. */
function run(args: string[], o: RunOptions = {}): Promise<Run> {
  const stdin = typeof o.stdin === 'number' ? o.stdin : 'pipe';
  const cmd = [process.execPath, path.join(repoRoot, 'bin', 'satrnn.js'), ...args];
  // setpriv drops the capabilities that let root read anything, keeping root's uid (so the
  // checkout stays reachable wherever it is, e.g. in a private `mktemp -d` folder).
  const dropCaps = ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', '--'];
  const argv = o.unprivileged ? [...dropCaps, ...cmd] : cmd;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin, 'pipe', 'pipe'] });
  if (o.stdin instanceof Uint8Array) child.stdin!.end(o.stdin);
  else if (typeof o.stdin === 'function') o.stdin(child.stdin!);
  else child.stdin?.end();
  child.stdin?.on('error', () => {}); // EPIPE once the CLI stops reading
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  let t0 = Date.now();
  let killed = false;
  let sigint: NodeJS.Timeout | undefined;
  const sample = (): void => {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
      if (o.sigintAfter !== undefined && !sigint && started(child.pid!, o.openedFile))
        sigint = setTimeout(() => ((t0 = Date.now()), child.kill('SIGINT')), o.sigintAfter);
    } catch {
      // exited
    }
  };
  const sampler = setInterval(sample, 25);
  const deadline = setTimeout(() => ((killed = true), child.kill('SIGKILL')), o.deadline ?? 20_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(deadline);
      if (sigint) clearTimeout(sigint);
      resolve({ code, signal, stdout, stderr, peakKb, ms: Date.now() - t0, killed });
    });
  });
}

/** Quick refusal: exit 2 within a few seconds, one short line on stderr, bounded memory. */
function expectRefused(r: Run, pattern: RegExp): void {
  expect(r.killed, `still running at the deadline; stderr: ${r.stderr}`).toBe(false);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length, r.stderr).toBe(1);
  expect(r.peakKb).toBeLessThan(RSS_LIMIT_KB);
  expect(r.ms).toBeLessThan(10_000);
}

/** Stopped by Ctrl-C: exit 130 soon after the SIGINT, "interrupted", bounded memory, no output. */
function expectInterrupted(r: Run): void {
  expect(r.killed, `still running at the deadline (SIGINT ignored?); stderr: ${r.stderr}`).toBe(false);
  expect(r.code, `${r.signal ?? ''} ${r.stderr}`).toBe(130);
  expect(r.stderr).toMatch(/satrnn: interrupted/);
  expect(r.stdout).toBe('');
  expect(r.ms, 'exit after SIGINT').toBeLessThan(5000);
  expect(r.peakKb).toBeLessThan(RSS_LIMIT_KB);
}

const devZero = (): number => openSync('/dev/zero', 'r');

describe.skipIf(!isLinux).concurrent('CLI: endless and special files as models are refused at once', () => {
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    it(`knockout -m ${dev}`, async () => expectRefused(await run(['knockout', '-m', dev, '-d', text]), new RegExp(`model path ${dev} is a character device, not a regular file`)));
    it(`reproduce q3_neurons <data> ${dev}`, async () => expectRefused(await run(['reproduce', 'q3_neurons', text, dev]), /is a character device, not a regular file/));
    it(`reproduce q5_redux <data> ${dev}`, async () => expectRefused(await run(['reproduce', 'q5_redux', text, dev]), /is a character device, not a regular file/));
  }
  it('a FIFO as model does not block: knockout and reproduce', async () => {
    expectRefused(await run(['knockout', '-m', fifo, '-d', text]), /is a FIFO \(named pipe\), not a regular file/);
    expectRefused(await run(['reproduce', 'q3_neurons', text, fifo]), /is a FIFO \(named pipe\), not a regular file/);
  });
  it('a 1.5 GiB sparse file as model: its size is checked before reading', async () => {
    expect(hiddenFromParamCount(SPARSE_MID / 4)).toBeNull();
    expectRefused(await run(['knockout', '-m', sparseMid, '-d', text]), /is not the size of any sat-rnn model/);
  });
  it('reproduce reads only the 329,216 bytes of a model (4 GiB sparse file: a zero model, trailing bytes ignored)', async () => {
    const r = await run(['reproduce', 'q3_neurons', text, sparse4G]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ignoring 4294638080 bytes after the 329216-byte model/);
    expect(r.peakKb).toBeLessThan(RSS_LIMIT_KB);
  });
});

describe.skipIf(!isLinux).concurrent('CLI: endless and special files as data', () => {
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    it(`knockout -d ${dev} is refused (endless)`, async () => expectRefused(await run(['knockout', '-m', small, '-d', dev]), new RegExp(`data path ${dev} is a character device.*head -c`)));
    it(`train -d ${dev} is refused`, async () => expectRefused(await run(['train', '-d', dev, '--epochs', '1', '--out', path.join(dir, 'train-dev')]), /is a character device/));
  }
  it('reproduce q3_neurons /dev/zero and q5_redux /dev/urandom read only 1,100 bytes: quick exit 0', async () => {
    const runs = await Promise.all((['q3_neurons', 'q5_redux'] as const).map((prog, i) => run(['reproduce', prog, ['/dev/zero', '/dev/urandom'][i]!, ref])));
    for (const r of runs) {
      expect(r.killed).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      expect(r.peakKb).toBeLessThan(RSS_LIMIT_KB);
    }
  });
  it('train: a 1.5 GiB text is over the 1 GiB limit: refused before reading', async () => {
    expectRefused(await run(['train', '-d', sparseMid, '--epochs', '1', '--out', path.join(dir, 'train-big')]), /1610612736 bytes.*at most 1 GiB/);
  });
  it('train -d - reads stdin (capped at 1 GiB)', async () => {
    const r = await run(['train', '-d', '-', '--hidden', '4', '--epochs', '1', '--json', '--out', path.join(dir, 'train-stdin')], { stdin: randomText(500, 4) });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).provenance.data).toMatchObject({ file: '<stdin>', bytes: 500 });
  });
  it('knockout -d - (finite stdin): one model reads the stream as it goes, two use a temporary copy; same results and provenance as the file', async () => {
    const two = path.join(dir, 'two-models');
    mkdirSync(two);
    writeFileSync(path.join(two, 'a.bin'), readFileSync(small));
    writeFileSync(path.join(two, 'b.bin'), randomModel(8, 9).toBytes());
    for (const m of [small, two]) {
      const [fromFile, fromStdin] = await Promise.all([run(['knockout', '-m', m, '-d', text, '--json']), run(['knockout', '-m', m, '-d', '-', '--json'], { stdin: readFileSync(text) })]);
      expect(fromStdin.code, fromStdin.stderr).toBe(0);
      const a = JSON.parse(fromFile.stdout);
      const b = JSON.parse(fromStdin.stdout);
      expect(b.provenance.data).toEqual({ ...a.provenance.data, file: '<stdin>' });
      expect(b.models).toHaveLength(m === two ? 2 : 1);
      expect(b.models).toEqual(a.models);
    }
  });
  it('a FIFO as data with a writer: knockout reads it once, as the same text in a file', async () => {
    const expected = await run(['knockout', '-m', small, '-d', text, '--csv']);
    expect(expected.code, expected.stderr).toBe(0);
    const writer = createWriteStream(fifo); // opens when the CLI opens the FIFO for reading
    writer.on('error', () => {});
    writer.end(readFileSync(text));
    const r = await run(['knockout', '-m', small, '-d', fifo, '--csv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(expected.stdout);
  });
});

describe.skipIf(!isLinux).concurrent('CLI: Ctrl-C during endless or long reads exits 130 promptly', () => {
  for (const backend of BACKENDS) {
    it(`knockout -d - on endless stdin (/dev/zero): bounded memory, SIGINT -> 130 (${backend})`, async () => {
      const fd = devZero();
      try {
        expectInterrupted(await run(['knockout', '-m', ref, '-d', '-', '--backend', backend], { stdin: fd, sigintAfter: 500 }));
      } finally {
        closeSync(fd);
      }
    });
  }
  it('knockout -d - on an endless pipe: bounded memory, SIGINT -> 130', async () => {
    const block = new Uint8Array(1 << 16).fill(97);
    const pump = (w: NodeJS.WritableStream): void => {
      const go = (): void => {
        while (w.write(block));
        w.once('drain', go);
      };
      w.on('error', () => {});
      go();
    };
    expectInterrupted(await run(['knockout', '-m', ref, '-d', '-'], { stdin: pump, sigintAfter: 500 }));
  });
  it('reproduce q3_neurons <FIFO whose writer sends nothing>: SIGINT during the wait -> 130', async () => {
    // The q-programs' bounded read waits for the writer on the event loop, not in a blocking read.
    const silent = path.join(dir, 'fifo-silent');
    spawnSync('mkfifo', [silent]);
    const writer = spawn('sh', ['-c', `exec 3>"${silent}"; sleep 60`], { stdio: 'ignore' });
    try {
      expectInterrupted(await run(['reproduce', 'q3_neurons', silent, ref], { sigintAfter: 500, openedFile: silent }));
    } finally {
      writer.kill('SIGKILL');
    }
  });
  it('knockout -d <FIFO with no writer> waits, and SIGINT -> 130', async () => {
    expectInterrupted(await run(['knockout', '-m', small, '-d', fifo], { sigintAfter: 500, openedFile: fifo }));
  });
  it('knockout -d <4 GiB sparse file>: SIGINT during the read -> 130', async () => {
    expectInterrupted(await run(['knockout', '-m', small, '-d', sparse4G], { sigintAfter: 300, openedFile: sparse4G }));
  });
});

describe.skipIf(!isLinux).concurrent('CLI: paths that cannot be read say why', () => {
  it('a symbolic link loop (model, data, reproduce)', async () => {
    expectRefused(await run(['knockout', '-m', loop, '-d', text]), /model path .*loop is a symbolic link loop/);
    expectRefused(await run(['knockout', '-m', small, '-d', loop]), /data path .*loop is a symbolic link loop/);
    expectRefused(await run(['reproduce', 'q3_neurons', loop, ref]), /data path .*loop is a symbolic link loop/);
    expectRefused(await run(['train', '-d', loop, '--out', path.join(dir, 'train-loop')]), /data path .*loop is a symbolic link loop/);
  });
  it('a folder (model folder with no .bin, data, train)', async () => {
    expectRefused(await run(['knockout', '-m', folder, '-d', text]), /contains no \.bin files/);
    expectRefused(await run(['knockout', '-m', small, '-d', folder]), /data path .*folder is a folder, not a file/);
    expectRefused(await run(['train', '-d', folder, '--out', path.join(dir, 'train-folder')]), /data path .*folder is a folder, not a file/);
  });
  it('a path through a file (ENOTDIR) and a name too long (ENAMETOOLONG)', async () => {
    expectRefused(await run(['knockout', '-m', notDir, '-d', text]), /model path .* goes through something that is not a folder/);
    expectRefused(await run(['knockout', '-m', small, '-d', tooLong]), /data path .* is too long/);
  });
  it('no read permission (as root: without its permission overrides)', async (ctx) => {
    const root = process.getuid?.() === 0;
    if (root && spawnSync('setpriv', ['--version']).status !== 0) {
      console.warn('!!! running as root without setpriv: the permission case is SKIPPED !!!');
      ctx.skip();
    }
    const secret = file('secret.bin', randomModel(8, 5).toBytes());
    const secretText = file('secret.txt', 'some text');
    chmodSync(secret, 0o000);
    chmodSync(secretText, 0o000);
    const o = root ? { unprivileged: true } : {};
    const pub = file('public.txt', 'hello world');
    const pubModel = file('public.bin', randomModel(8, 6).toBytes());
    expectRefused(await run(['knockout', '-m', secret, '-d', pub], o), /permission denied: cannot read model file .*secret\.bin/);
    expectRefused(await run(['knockout', '-m', pubModel, '-d', secretText], o), /permission denied: cannot read data file .*secret\.txt/);
    expectRefused(await run(['reproduce', 'q3_neurons', secretText, ref], o), /permission denied: cannot read data file/);
  });
});

/**
 * Runs `fn` while a helper opens the FIFO for writing after 4 s (and closes it at once): a
 * reader blocked on it (a synchronous open or read) then sees end of file instead of
 * hanging this test process forever. A correct reader never opens it: the helper is killed.
 */
function withFifoWatchdog<T>(fn: () => T): T {
  const helper = spawn('sh', ['-c', `sleep 4; exec 3>"${fifo}"`], { stdio: 'ignore' });
  try {
    return fn();
  } finally {
    helper.kill('SIGKILL');
  }
}

describe.skipIf(!isLinux)('API: the same inputs', () => {
  /** The error's code and message (or 'no error', or 'timeout' after 10 s). */
  const code = async (fn: () => unknown): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([fn(), new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)))]);
      if (r === 'timeout') return 'timeout';
    } catch (err) {
      expect(err).toBeInstanceOf(SatrnnError);
      return `${(err as SatrnnError).code}: ${(err as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    return 'no error';
  };
  it('loadModel: devices, FIFOs, loops and huge files are refused without reading', async () => {
    expect(await code(() => loadModel('/dev/zero'))).toMatch(/^FILE_UNREADABLE: .*character device/);
    expect(await code(() => withFifoWatchdog(() => loadModel(fifo)))).toMatch(/^FILE_UNREADABLE: .*FIFO/);
    expect(await code(() => loadModel(loop))).toMatch(/^FILE_UNREADABLE: .*symbolic link loop/);
    expect(await code(() => loadModel(sparseMid))).toMatch(/^BAD_MODEL_SIZE: /);
    expect(await code(() => loadModel(sparse4G, { hidden: 128 }))).toMatch(/^BAD_MODEL_SIZE: .*expected exactly 329216/);
    expect(await code(() => readOriginalModel('/dev/urandom'))).toMatch(/^FILE_UNREADABLE: .*character device/);
    const warnings: string[] = [];
    expect(readOriginalModel(sparse4G, (w) => warnings.push(w)).hidden).toBe(128);
    expect(warnings).toEqual([`${sparse4G}: ignoring 4294638080 bytes after the 329216-byte model`]);
  });
  it('loadData: whole reads refuse devices and FIFOs; bounded reads take a prefix', async () => {
    expect(await code(() => loadData('/dev/zero'))).toMatch(/^FILE_UNREADABLE: .*character device/);
    expect(await code(() => withFifoWatchdog(() => loadData(fifo)))).toMatch(/^FILE_UNREADABLE: .*FIFO/);
    expect(await code(() => loadData(sparse4G))).toMatch(/^FILE_UNREADABLE: .*at most 1 GiB/);
    expect(loadData('/dev/zero', { maxBytes: 1024 })).toEqual(new Uint8Array(1024));
    expect(loadData(sparse4G, { maxBytes: 10 })).toEqual(new Uint8Array(10));
    expect((await readOriginalData('/dev/urandom')).length).toBe(1024);
    expect(await code(() => withFifoWatchdog(() => readOriginalData(fifo)))).toMatch(/^DATA_TOO_SHORT: .*FIFO.*no writer/);
  });
  for (const backend of BACKENDS) {
    it(`Analysis on a device or FIFO path is refused at once (${backend})`, async () => {
      const model = randomModel(4, 7);
      expect(await code(() => new Analysis({ model, data: '/dev/zero', backend }).meanBpc([{}]))).toMatch(/^FILE_UNREADABLE: .*character device/);
      expect(await code(() => new Analysis({ model, data: fifo, backend }).meanBpc([{}]))).toMatch(/^FILE_UNREADABLE: .*FIFO/);
      expect(await code(() => new Analysis({ model, data: loop, backend }).meanBpc([{}]))).toMatch(/^FILE_UNREADABLE: .*symbolic link loop/);
    });
  }
  it('blocks() of a path checks the signal between blocks', async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctl.abort(), 100);
    expect(
      await code(async () => {
        for await (const _b of blocks(sparse4G, ctl.signal));
      }),
    ).toMatch(/^ABORTED/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

// A writer left waiting on the FIFO by a failed test: open it (read-write) so that it ends.
afterAll(() => {
  try {
    closeSync(openSync(fifo, 'r+'));
  } catch {
    // gone
  }
});
