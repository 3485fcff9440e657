// A small pool of worker_threads for the js backend. Workers are created lazily, unref'd
// (an idle pool never keeps the process alive) and terminated on abort.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerTask } from './worker.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The compiled worker (the TypeScript sources cannot run in a worker directly). */
const workerFile = path.join(packageRoot, 'dist', 'backend', 'js', 'worker.js');

export function workersAvailable(): boolean {
  return existsSync(workerFile);
}

/** Copies a typed array into shared memory so every worker reads it without a copy. */
export function shared<T extends Float32Array | Float64Array | Uint8Array>(a: T): T {
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  (out as unknown as { set(x: T): void }).set(a);
  return out;
}

export function sharedZeros<T extends Float32Array | Float64Array>(Ctor: new (b: SharedArrayBuffer) => T, length: number): T {
  return new Ctor(new SharedArrayBuffer(length * (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT));
}

let idle: Worker[] = [];
let nextId = 1;

function take(): Worker {
  const w = idle.pop() ?? new Worker(workerFile);
  w.unref();
  return w;
}

/**
 * Runs tasks, one per worker, in parallel. `onProgress(delta)` sees progress messages.
 * On abort, the workers are terminated and the promise rejects with `abortReason()`.
 */
/** A task without its id (distributes over the task kinds). */
export type TaskInput = WorkerTask extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

export async function runTasks(
  tasks: TaskInput[],
  onProgress: (delta: number) => void,
  signal: AbortSignal | undefined,
  abortReason: () => Error,
): Promise<Extract<WorkerReply, { type: 'done' }>[]> {
  const workers = tasks.map(() => take());
  const ids = tasks.map(() => nextId++);
  let onAbort: (() => void) | undefined;
  try {
    const results = await new Promise<Extract<WorkerReply, { type: 'done' }>[]>((resolve, reject) => {
      const out: Extract<WorkerReply, { type: 'done' }>[] = new Array(tasks.length);
      let remaining = tasks.length;
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        for (const w of workers) void w.terminate();
        reject(err);
      };
      onAbort = () => fail(abortReason());
      signal?.addEventListener('abort', onAbort, { once: true });
      workers.forEach((w, i) => {
        w.ref();
        const onError = (err: Error): void => fail(err);
        const onMessage = (m: WorkerReply): void => {
          if (m.id !== ids[i]) return;
          if (m.type === 'progress') onProgress(m.done);
          else if (m.type === 'error') fail(new Error(m.message));
          else {
            out[i] = m;
            w.off('message', onMessage);
            w.off('error', onError);
            w.unref();
            if (--remaining === 0 && !failed) resolve(out);
          }
        };
        w.on('message', onMessage);
        w.on('error', onError);
        w.postMessage({ ...tasks[i], id: ids[i] });
      });
    });
    idle.push(...workers); // only healthy workers go back to the pool
    return results;
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
