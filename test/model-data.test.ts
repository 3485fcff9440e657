// Models and texts as the library reads them: model sizes (parseModel, new Model), data
// length (checkData), and texts given as paths or streams, checked when read; each problem
// a SatrnnError with its code. (The CLI's messages for bad files: test/cli.test.ts.)
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { Analysis } from '../lib/analysis.js';
import { checkData } from '../lib/data.js';
import { Model, paramCount, parseModel } from '../lib/model.js';
import { expectCode } from './helpers.js';

const floats = (n: number, v = 0.01): Uint8Array => new Uint8Array(new Float32Array(n).fill(v).buffer);

describe('models and data: typed errors', () => {
  it('model sizes: no H fits is BAD_MODEL_SIZE, H = 0 is BAD_OPTION; H = 1 and H = 300 parse', () => {
    expectCode(() => parseModel(new Uint8Array(7)), 'BAD_MODEL_SIZE');
    expectCode(() => parseModel(new Uint8Array(0)), 'BAD_MODEL_SIZE');
    expectCode(() => new Model(new Float32Array(10), 3), 'BAD_MODEL_SIZE');
    expectCode(() => new Model(new Float32Array(10), 0), 'BAD_OPTION');
    expect(parseModel(floats(paramCount(1))).hidden).toBe(1);
    expect(parseModel(floats(paramCount(300))).hidden).toBe(300);
  });
  it('data length: 1 byte is DATA_TOO_SHORT, 2 bytes are enough', () => {
    expectCode(() => checkData(new Uint8Array(1)), 'DATA_TOO_SHORT');
    expect(checkData(new Uint8Array(2)).length).toBe(2);
  });
  it('texts given as paths or streams are checked when read (folder, missing file, string chunks, 1 byte)', async () => {
    const model = new Model(new Float32Array(paramCount(4)), 4);
    const onText = (data: never) => new Analysis({ model, data, backend: 'js' }).meanBpc([{}]);
    await expect(onText(os.tmpdir() as never)).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    await expect(onText('/nonexistent/text.txt' as never)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(onText((() => (async function* () { yield 'x'; })()) as never)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(onText((() => (async function* () { yield new Uint8Array([1]); })()) as never)).rejects.toMatchObject({ code: 'DATA_TOO_SHORT' });
  });
});
