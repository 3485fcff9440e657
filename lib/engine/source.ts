// Texts as the engine reads them: bytes in memory, a file read in blocks, or a function
// returning a fresh async iterable of byte blocks (a stream). Every pass over a text asks
// the source again, so a file or a stream factory is never held in memory whole.
import { SatrnnError, throwIfAborted } from '../errors.js';
import { readInputBlocks } from '../io.js';

/**
 * A text: bytes in memory, a file path (read in 1 MiB blocks on every pass), or a function
 * returning a fresh async iterable of byte blocks (called once per pass; blocks may have
 * any size).
 */
export type TextSource = Uint8Array | string | (() => AsyncIterable<Uint8Array>);

/** The source's length in bytes when it is known without reading it (bytes: yes; files: stat). */
export async function knownLength(src: TextSource): Promise<number | undefined> {
  if (src instanceof Uint8Array) return src.length;
  if (typeof src === 'string') {
    const { stat } = process.getBuiltinModule('node:fs/promises');
    try {
      const st = await stat(src);
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The blocks of one pass over the source, checking `signal` between blocks. A path must be
 * a regular file (it is read again on every pass): devices, FIFOs and sockets are refused
 * without being opened; give a stream function for those.
 */
export async function* blocks(src: TextSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (src instanceof Uint8Array) {
    yield src;
    return;
  }
  if (typeof src === 'string') {
    yield* readInputBlocks(src, 'data', {
      signal,
      hint: 'a text path is read once per pass, so it must be a regular file; give a stream (a function returning an async iterable of Uint8Array) to read it once',
    });
    return;
  }
  if (typeof src === 'function') {
    for await (const b of src()) {
      if (!(b instanceof Uint8Array)) throw new SatrnnError('BAD_OPTION', 'a text stream must yield Uint8Array blocks');
      throwIfAborted(signal);
      yield b;
    }
    return;
  }
  throw new SatrnnError('BAD_OPTION', 'text must be a Uint8Array, a file path or a function returning an async iterable of Uint8Array');
}

/**
 * Chunks of predictions for one pass: `bytes` holds the inputs of positions pos0 ..
 * pos0+steps-1 and then the next byte (the last target). Consecutive chunks overlap by
 * that one byte; the text's last byte is never an input (00-common §2).
 */
export async function* predictionChunks(src: TextSource, size: number, signal?: AbortSignal): AsyncGenerator<{ pos0: number; steps: number; bytes: Uint8Array }> {
  let buf = new Uint8Array(0);
  let pos0 = 0;
  for await (const b of blocks(src, signal)) {
    if (b.length === 0) continue;
    let data: Uint8Array;
    if (buf.length === 0) data = b;
    else {
      data = new Uint8Array(buf.length + b.length);
      data.set(buf);
      data.set(b, buf.length);
    }
    let off = 0;
    while (data.length - off >= size + 1) {
      yield { pos0, steps: size, bytes: data.subarray(off, off + size + 1) };
      off += size;
      pos0 += size;
    }
    buf = data.slice(off); // copy: the next block may reuse nothing of this one
  }
  if (buf.length >= 2) yield { pos0, steps: buf.length - 1, bytes: buf };
}
