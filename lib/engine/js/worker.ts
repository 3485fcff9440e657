// worker_threads entry of the js backend: runs one kernel on shared memory per task.
import { parentPort } from 'node:worker_threads';
import { SatrnnError } from '../../errors.js';
import { evalBpc, trainEpoch } from './train.js';
import { runDynamicsJs, type DynamicsChunk } from './dynamics.js';
import { readoutTileJs, type ReadoutTile } from './readout.js';

export type WorkerTask =
  | ({ type: 'dynamics'; id: number } & DynamicsChunk)
  | ({ type: 'readout'; id: number; /** Predictions in the tile (for progress). */ count?: number } & ReadoutTile)
  | { type: 'trainEpoch'; id: number; weights: Float32Array; hidden: number; data: Uint8Array; lr: number; params: { bptt: number; lrPeak: number; clip: number } }
  | { type: 'evalBpc'; id: number; weights: Float32Array; hidden: number; data: Uint8Array };

export type WorkerReply = { type: 'done'; id: number; value: number } | { type: 'error'; id: number; message: string; code?: string };

function runTask(task: WorkerTask): number {
  switch (task.type) {
    case 'dynamics':
      runDynamicsJs(task);
      return 0;
    case 'readout':
      return readoutTileJs(task);
    case 'trainEpoch':
      return trainEpoch(task.weights, task.data, task.lr, { H: task.hidden, ...task.params });
    case 'evalBpc':
      return evalBpc(task.weights, task.hidden, task.data);
  }
}

const port = parentPort;
if (port) {
  port.on('message', (task: WorkerTask) => {
    try {
      port.postMessage({ type: 'done', id: task.id, value: runTask(task) } satisfies WorkerReply);
    } catch (err) {
      // The class does not cross the thread boundary: send the code, rebuilt on the other side.
      port.postMessage({ type: 'error', id: task.id, message: (err as Error).message, ...(err instanceof SatrnnError ? { code: err.code } : {}) } satisfies WorkerReply);
    }
  });
}
