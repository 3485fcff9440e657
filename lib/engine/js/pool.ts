// A small pool of worker_threads for the js backend. Workers are created lazily, unref'd
// (an idle pool never keeps the process alive) and terminated on abort or failure.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SatrnnError, type SatrnnErrorCode } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import type { WorkerReply, WorkerTask } from './worker.js';

/** The compiled worker (the TypeScript sources cannot run in a worker directly). */
const workerFile = path.join(packageRoot, 'dist', 'engine', 'js', 'worker.js');

export function workersAvailable(): boolean {
  return existsSync(workerFile);
}

/** A copy of a typed array in shared memory, so every worker reads it without a copy. */
export function shared<T extends Float32Array | Float64Array | Uint8Array | Uint32Array>(a: T): T {
  // The base class, not a.constructor: a Node Buffer (a Uint8Array subclass, e.g. file data)
  // must become a plain Uint8Array (new Buffer(...) is deprecated and prints a warning).
  const Ctor = (a instanceof Float32Array ? Float32Array : a instanceof Float64Array ? Float64Array : a instanceof Uint32Array ? Uint32Array : Uint8Array) as unknown as new (
    b: SharedArrayBuffer,
  ) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  (out as unknown as { set(x: T): void }).set(a);
  return out;
}

export function sharedZeros<T extends Float32Array | Float64Array>(Ctor: new (b: SharedArrayBuffer) => T, length: number): T {
  return new Ctor(new SharedArrayBuffer(length * (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT));
}

let idle: Worker[] = [];
let nextId = 1;

/** A task without its id (distributes over the task kinds). */
export type TaskInput = WorkerTask extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;
export type DoneReply = Extract<WorkerReply, { type: 'done' }>;

/**
 * Runs tasks on up to `threads` workers, each taking the next task when it finishes one;
 * replies come back in task order. `onDone(i)` is called as task i finishes. On abort or
 * failure every worker of the call is terminated and the promise rejects.
 */
export async function runQueue(
  tasks: TaskInput[],
  threads: number,
  onDone: (i: number, reply: DoneReply) => void,
  signal: AbortSignal | undefined,
  abortReason: () => Error,
): Promise<DoneReply[]> {
  const n = Math.min(threads, tasks.length);
  const workers: Worker[] = [];
  for (let i = 0; i < n; i++) {
    const w = idle.pop() ?? new Worker(workerFile);
    w.unref();
    workers.push(w);
  }
  let onAbort: (() => void) | undefined;
  try {
    const out = await new Promise<DoneReply[]>((resolve, reject) => {
      const replies: DoneReply[] = new Array(tasks.length);
      let next = 0;
      let finished = 0;
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        for (const w of workers) void w.terminate();
        reject(err);
      };
      onAbort = () => fail(abortReason());
      signal?.addEventListener('abort', onAbort, { once: true });
      const feed = (w: Worker): void => {
        if (failed) return;
        if (next >= tasks.length) {
          w.unref();
          return;
        }
        const i = next++;
        const id = nextId++;
        const onError = (err: Error): void => fail(err instanceof SatrnnError ? err : new SatrnnError('INTERNAL', `js backend worker failed: ${err.message}`, { cause: err }));
        const onMessage = (m: WorkerReply): void => {
          if (m.id !== id) return;
          w.off('message', onMessage);
          w.off('error', onError);
          if (m.type === 'error')
            return fail(new SatrnnError((m.code as SatrnnErrorCode | undefined) ?? 'INTERNAL', m.code ? m.message : `js backend worker failed: ${m.message}`));
          replies[i] = m;
          onDone(i, m);
          if (++finished === tasks.length && !failed) {
            for (const x of workers) x.unref();
            resolve(replies);
          } else feed(w);
        };
        w.ref();
        w.on('message', onMessage);
        w.on('error', onError);
        w.postMessage({ ...tasks[i], id });
      };
      if (tasks.length === 0) resolve(replies);
      for (const w of workers) feed(w);
    });
    idle.push(...workers); // only healthy workers go back to the pool
    return out;
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
