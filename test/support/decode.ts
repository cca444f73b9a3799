import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DecodeError } from '../../src/decode';

/** Splits `data` into chunks whose sizes cycle through `sizes`, so splits land everywhere. */
export function chunks(data: Buffer | string, sizes = [1, 2, 3, 5, 8, 13]): Buffer[] {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

export function streamOf(data: Buffer | string, sizes?: number[]): Readable {
  return Readable.from(chunks(data, sizes));
}

/** A stream of `chunkSize` pieces of `data` that counts how many pieces were pulled. */
export function countingStream(
  data: Buffer,
  chunkSize: number,
): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  function* gen(): Generator<Buffer> {
    for (let i = 0; i < data.length; i += chunkSize) {
      pulled++;
      yield data.subarray(i, i + chunkSize);
    }
  }
  return { stream: Readable.from(gen()), pulled: () => pulled };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Asserts `promise` rejects with a DecodeError whose message matches every pattern. */
export async function rejectsDecode(
  promise: Promise<unknown>,
  ...patterns: RegExp[]
): Promise<DecodeError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof DecodeError, `expected a DecodeError, got ${String(caught)}`);
  assert.equal(caught.failureType, 'system_error');
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

export const ticks = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Files in a fresh temporary folder, removed by `remove()`. */
export class TempFiles {
  private readonly dir = mkdtempSync(join(tmpdir(), 'spdm-decode-'));
  private count = 0;

  /** A new file holding `data`; returns its path. */
  write(data: Buffer | string): string {
    const path = join(this.dir, `file-${++this.count}`);
    writeFileSync(path, data);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Bytes this process has read from files and sockets so far (Linux `rchar`). */
export function bytesRead(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** How many file descriptors this process has open. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
