// worker_threads entry of the js backend: runs kernels on shared memory, reports progress.
import { parentPort } from 'node:worker_threads';
import { Model } from '../../model.js';
import type { ReadoutMethod, TrainEpochParams } from '../types.js';
import { evalBpc, trainEpoch } from '../../train/kernels.js';
import { forwardJs, readoutJs } from './kernels.js';

export type WorkerTask =
  | {
      type: 'readout';
      id: number;
      weights: Float32Array;
      hidden: number;
      states: Float32Array;
      targets: Uint8Array;
      keep: Uint8Array;
      snap?: Uint8Array;
      mean: Float64Array;
      bits?: Float64Array;
      method: ReadoutMethod;
      v0: number;
      v1: number;
      chunk: number;
    }
  | { type: 'forward'; id: number; weights: Float32Array; hidden: number; bytes: Uint8Array; h0?: Float32Array; out: Float32Array }
  | { type: 'trainEpoch'; id: number; weights: Float32Array; hidden: number; data: Uint8Array; lr: number; params: TrainEpochParams }
  | { type: 'evalBpc'; id: number; weights: Float32Array; hidden: number; data: Uint8Array };

export type WorkerReply =
  | { type: 'progress'; id: number; done: number }
  | { type: 'done'; id: number; method?: ReadoutMethod; fallbacks?: number; value?: number }
  | { type: 'error'; id: number; message: string };

const port = parentPort;
if (port) {
  port.on('message', (task: WorkerTask) => {
    try {
      if (task.type === 'trainEpoch') {
        const value = trainEpoch(task.weights, task.data, task.lr, { H: task.hidden, ...task.params });
        port.postMessage({ type: 'done', id: task.id, value } satisfies WorkerReply);
        return;
      }
      if (task.type === 'evalBpc') {
        const value = evalBpc(task.weights, task.hidden, task.data);
        port.postMessage({ type: 'done', id: task.id, value } satisfies WorkerReply);
        return;
      }
      const model = new Model(task.weights, task.hidden, '<shared>');
      if (task.type === 'forward') {
        task.out.set(forwardJs(model, task.bytes, task.h0));
        port.postMessage({ type: 'done', id: task.id } satisfies WorkerReply);
        return;
      }
      let fallbacks = 0;
      let method: ReadoutMethod = task.method;
      for (let c0 = task.v0; c0 < task.v1; c0 += task.chunk) {
        const c1 = Math.min(task.v1, c0 + task.chunk);
        const r = readoutJs({
          model,
          states: task.states,
          targets: task.targets,
          keep: task.keep,
          ...(task.snap ? { snap: task.snap } : {}),
          v0: c0,
          v1: c1,
          mean: task.mean,
          ...(task.bits ? { bits: task.bits } : {}),
          method: task.method,
        });
        fallbacks += r.fallbacks;
        method = r.method;
        port.postMessage({ type: 'progress', id: task.id, done: c1 - c0 } satisfies WorkerReply);
      }
      port.postMessage({ type: 'done', id: task.id, method, fallbacks } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'error', id: task.id, message: (err as Error).message } satisfies WorkerReply);
    }
  });
}
