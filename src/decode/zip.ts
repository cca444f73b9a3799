import type { Readable, Writable } from 'node:stream';
import * as zlib from 'node:zlib';
import { DecodeError, quoteValue } from './errors';
import { tooLarge } from './limit';

/*
 * Streaming reader for ONE entry of a zip archive, front to back, without the central directory
 * (it sits at the end and we cannot seek an HTTP body). Entry data is inflated by Node's zlib,
 * which keeps output chunks small and respects backpressure, so a bomb cannot pile up in memory.
 */

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIR = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIR = 0x06064b50;
const DATA_DESCRIPTOR = 0x08074b50;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const STORED = 0;
const DEFLATED = 8;
const U32 = 0x1_0000_0000;
const EOCD_SIZE = 22;
const EOCD_MAX_SIZE = EOCD_SIZE + 0xffff; // the record may end with a comment of up to 64 KiB
const EMPTY = Buffer.alloc(0);

// zlib.crc32 exists from Node 20.15; on older runtimes the CRC check is skipped.
const crc32: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : undefined;

export interface ZipOptions {
  source: string;
  maxBytes: number;
  zipEntry?: (name: string) => boolean;
}

/** Default entry choice: a `.csv` file that is not macOS metadata (`__MACOSX/`, `._name`). */
export function isCsvEntry(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return (
    name.toLowerCase().endsWith('.csv') && !name.startsWith('__MACOSX/') && !base.startsWith('._')
  );
}

interface Entry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  zip64: boolean;
}

interface Extracted {
  size: number;
  crc: number;
}

/**
 * Streams the data of the chosen entry of the zip `input` into `out` (which is not ended here),
 * then reads the rest of the archive to make sure it is complete.
 */
export async function extractZipEntry(
  input: Readable,
  out: Writable,
  opts: ZipOptions,
): Promise<void> {
  const guard = new Guard(out);
  const iterator = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const src = new ByteReader(iterator, guard);
  const fail = new Failures(opts.source, src);
  const wanted = opts.zipEntry ?? isCsvEntry;
  const seen: string[] = [];
  for (;;) {
    const head = await src.exactly(4);
    if (head === null) {
      throw fail.truncated(seen.length ? 'after the last entry it read' : 'before its first entry');
    }
    const signature = head.readUInt32LE(0);
    if (signature === LOCAL_HEADER) {
      const entry = await readLocalHeader(src, fail);
      const isFile = !entry.name.endsWith('/');
      if (isFile) seen.push(entry.name);
      if (isFile && wanted(entry.name)) {
        await extract(entry, src, out, guard, fail, opts.maxBytes);
        await expectEndOfArchive(src, fail);
        return;
      }
      await skip(entry, src, guard, fail);
    } else if (
      signature === CENTRAL_HEADER ||
      signature === END_OF_CENTRAL_DIR ||
      signature === ZIP64_END_OF_CENTRAL_DIR
    ) {
      const names = seen.length ? seen.map(quoteValue).join(', ') : 'none';
      throw new DecodeError(
        `${opts.source}: the zip archive has no entry to read ` +
          `(${opts.zipEntry ? 'none matches the requested entry' : 'expected a .csv file'}); entries: ${names}`,
      );
    } else if (src.position === 4) {
      throw new DecodeError(
        `${opts.source}: the file is not a zip archive (it starts with 0x${head.toString('hex')})`,
      );
    } else {
      throw fail.corrupt(`unexpected bytes 0x${head.toString('hex')} where a zip header belongs`);
    }
  }
}

async function readLocalHeader(src: ByteReader, fail: Failures): Promise<Entry> {
  const h = await src.exactly(26);
  if (h === null) throw fail.truncated('inside a file header');
  const flags = h.readUInt16LE(2);
  const nameLength = h.readUInt16LE(22);
  const extraLength = h.readUInt16LE(24);
  const entry: Entry = {
    name: '',
    flags,
    method: h.readUInt16LE(4),
    crc: h.readUInt32LE(10),
    compressedSize: h.readUInt32LE(14),
    size: h.readUInt32LE(18),
    zip64: false,
  };
  const rest = await src.exactly(nameLength + extraLength);
  if (rest === null) throw fail.truncated('inside a file header');
  // Names without the UTF-8 flag are CP437; latin1 is close enough to match on an extension.
  entry.name = rest.toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1', 0, nameLength);
  for (let p = nameLength; p + 4 <= rest.length;) {
    const id = rest.readUInt16LE(p);
    const length = rest.readUInt16LE(p + 2);
    const data = p + 4;
    if (id === 0x0001 && data + length <= rest.length) {
      // Zip64: the real sizes (a local header carries both when it carries either).
      entry.zip64 = true;
      if (length >= 16) {
        entry.size = Number(rest.readBigUInt64LE(data));
        entry.compressedSize = Number(rest.readBigUInt64LE(data + 8));
      } else if (length >= 8) {
        const value = Number(rest.readBigUInt64LE(data));
        if (entry.size === U32 - 1) entry.size = value;
        else entry.compressedSize = value;
      }
    }
    p = data + length;
  }
  return entry;
}

async function extract(
  entry: Entry,
  src: ByteReader,
  out: Writable,
  guard: Guard,
  fail: Failures,
  maxBytes: number,
): Promise<void> {
  const name = quoteValue(entry.name);
  if (entry.flags & FLAG_ENCRYPTED) {
    throw new DecodeError(`${fail.source}: zip entry ${name} is encrypted, which is not supported`);
  }
  const hasDescriptor = (entry.flags & FLAG_DATA_DESCRIPTOR) !== 0;
  // Fail early when the header already tells the size; otherwise `out` counts.
  if (!hasDescriptor && entry.size > maxBytes) throw tooLarge(fail.source, maxBytes);
  let got: Extracted;
  if (entry.method === DEFLATED) got = await inflate(entry, src, guard, fail, out);
  else if (entry.method === STORED) got = await copyStored(entry, src, guard, fail, out);
  else {
    throw new DecodeError(
      `${fail.source}: zip entry ${name} uses compression method ${entry.method}; ` +
        'only stored (0) and deflate (8) are supported',
    );
  }
  const expected = hasDescriptor ? await readDescriptor(entry, src, fail) : entry;
  // Without zip64 the sizes are stored modulo 2^32.
  const size = entry.zip64 ? got.size : got.size % U32;
  if (size !== expected.size) {
    throw fail.corrupt(`entry ${name} should hold ${expected.size} bytes but holds ${got.size}`);
  }
  if (crc32 !== undefined && got.crc !== expected.crc) {
    throw fail.corrupt(`entry ${name} fails its CRC-32 check`);
  }
}

/** Moves past an entry we do not want. */
async function skip(entry: Entry, src: ByteReader, guard: Guard, fail: Failures): Promise<void> {
  const hasDescriptor = (entry.flags & FLAG_DATA_DESCRIPTOR) !== 0;
  if (hasDescriptor && entry.method === DEFLATED) {
    // The size is only known after the data: inflating (and discarding) is the only way to find its end.
    await inflate(entry, src, guard, fail, null);
  } else if (!(await src.skip(entry.compressedSize))) {
    throw fail.truncated(`inside entry ${quoteValue(entry.name)}`);
  }
  if (hasDescriptor) await readDescriptor(entry, src, fail);
}

async function copyStored(
  entry: Entry,
  src: ByteReader,
  guard: Guard,
  fail: Failures,
  out: Writable,
): Promise<Extracted> {
  let left = entry.compressedSize;
  let crc = 0;
  while (left > 0) {
    const chunk = await src.some(left);
    if (chunk === null) throw fail.truncated(`inside the data of entry ${quoteValue(entry.name)}`);
    left -= chunk.length;
    if (crc32 !== undefined) crc = crc32(chunk, crc);
    if (!guard.write(chunk)) await guard.wait(drained(out));
  }
  return { size: entry.compressedSize, crc };
}

/**
 * Inflates one entry's data into `sink` (or nowhere). The end of the data is where the deflate
 * stream ends: zlib stops consuming there, and `bytesWritten` says how much of the last chunk it
 * took, so the rest goes back to the reader.
 */
async function inflate(
  entry: Entry,
  src: ByteReader,
  guard: Guard,
  fail: Failures,
  sink: Writable | null,
): Promise<Extracted> {
  const inflater = zlib.createInflateRaw();
  const result: Extracted = { size: 0, crc: 0 };
  const withCrc = sink !== null && crc32 !== undefined;
  inflater.on('data', (chunk: Buffer) => {
    result.size += chunk.length;
    if (withCrc) result.crc = crc32(chunk, result.crc);
  });
  const ended = new Promise<void>((resolve, reject) => {
    inflater.once('end', resolve);
    inflater.on('error', reject);
  });
  ended.catch(() => undefined); // also reported through write callbacks; awaited below
  if (sink !== null) inflater.pipe(sink, { end: false });
  const name = quoteValue(entry.name);
  const known = (entry.flags & FLAG_DATA_DESCRIPTOR) === 0;
  let left = known ? entry.compressedSize : Infinity;
  let fed = 0;
  try {
    while (left > 0) {
      const chunk = await src.some(left);
      if (chunk === null) {
        throw fail.truncated(`inside the compressed data of entry ${name}`);
      }
      await guard.wait(written(inflater, chunk)).catch((err: unknown) => {
        throw fail.badData(entry, err);
      });
      fed += chunk.length;
      left -= chunk.length;
      const unused = fed - inflater.bytesWritten;
      if (unused > 0) {
        // The deflate stream ended inside this chunk.
        src.unread(chunk.subarray(chunk.length - unused));
        if (known && !(await src.skip(left + unused))) {
          throw fail.truncated(`inside entry ${name}`);
        }
        break;
      }
    }
    inflater.end();
    await guard.wait(ended).catch((err: unknown) => {
      throw fail.badData(entry, err);
    });
    return result;
  } finally {
    if (sink !== null) inflater.unpipe(sink);
    inflater.destroy();
  }
}

async function readDescriptor(entry: Entry, src: ByteReader, fail: Failures): Promise<Entry> {
  // The descriptor's signature is optional: crc-32, then the sizes (64-bit when zip64).
  const sizeBytes = entry.zip64 ? 8 : 4;
  let b = await src.exactly(4);
  if (b !== null && b.readUInt32LE(0) === DATA_DESCRIPTOR) b = await src.exactly(4);
  const sizes = b === null ? null : await src.exactly(2 * sizeBytes);
  if (b === null || sizes === null) {
    throw fail.truncated(`inside the data descriptor of entry ${quoteValue(entry.name)}`);
  }
  const read = (at: number): number =>
    sizeBytes === 8 ? Number(sizes.readBigUInt64LE(at)) : sizes.readUInt32LE(at);
  return { ...entry, crc: b.readUInt32LE(0), compressedSize: read(0), size: read(sizeBytes) };
}

/**
 * Reads the rest of the archive and checks it ends with an end-of-central-directory record, so a
 * download cut after our entry still fails instead of passing silently.
 */
async function expectEndOfArchive(src: ByteReader, fail: Failures): Promise<void> {
  const tail: Buffer[] = [];
  let tailLength = 0;
  for (;;) {
    const chunk = await src.some(Infinity);
    if (chunk === null) break;
    tail.push(chunk);
    tailLength += chunk.length;
    while (tailLength - tail[0].length >= EOCD_MAX_SIZE) tailLength -= tail.shift()!.length;
  }
  const end = Buffer.concat(tail, tailLength);
  for (let i = end.length - EOCD_SIZE; i >= 0; i--) {
    if (
      end.readUInt32LE(i) === END_OF_CENTRAL_DIR &&
      i + EOCD_SIZE + end.readUInt16LE(i + 20) === end.length
    ) {
      return;
    }
  }
  throw fail.truncated('before its end-of-central-directory record');
}

/** Builds the DecodeErrors, with the archive offset reached so far. */
class Failures {
  constructor(
    readonly source: string,
    private readonly src: ByteReader,
  ) {}

  truncated(where: string): DecodeError {
    return new DecodeError(
      `${this.source}: the zip file is truncated (incomplete): it ends after ${this.src.position} bytes, ${where}`,
    );
  }

  corrupt(what: string): DecodeError {
    return new DecodeError(`${this.source}: the zip file is corrupt: ${what}`);
  }

  badData(entry: Entry, err: unknown): Error {
    if (err instanceof DecodeError || !(err instanceof Error)) return err as Error;
    return new DecodeError(
      `${this.source}: the zip file is corrupt: the compressed data of entry ` +
        `${quoteValue(entry.name)} is invalid or incomplete (${err.message})`,
      'system_error',
      err.stack,
    );
  }
}

/**
 * Ties the extraction to `out`: once `out` closes (consumer gone, limit hit), the pending wait
 * rejects so the extraction stops instead of hanging on a stream nobody reads.
 */
class Guard {
  private closed = false;
  private rejectPending: ((err: Error) => void) | null = null;

  constructor(private readonly out: Writable) {
    out.once('close', () => {
      this.closed = true;
      this.rejectPending?.(new Error('output closed'));
    });
  }

  wait<T>(promise: Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('output closed'));
    // Not Promise.race with a long-lived promise: that would keep one reaction per call.
    return new Promise<T>((resolve, reject) => {
      this.rejectPending = reject;
      promise.then(
        (value) => {
          this.rejectPending = null;
          resolve(value);
        },
        (err: unknown) => {
          this.rejectPending = null;
          reject(err);
        },
      );
    });
  }

  write(chunk: Buffer): boolean {
    if (this.closed) throw new Error('output closed');
    return this.out.write(chunk);
  }
}

/** Pulls bytes from the input on demand, so reading only goes as fast as the consumer. */
class ByteReader {
  private buffer: Buffer = EMPTY;
  /** Bytes of the archive consumed so far. */
  position = 0;

  constructor(
    private readonly iterator: AsyncIterator<unknown>,
    private readonly guard: Guard,
  ) {}

  /** Up to `max` bytes (at least one), or null at the end of the input. */
  async some(max: number): Promise<Buffer | null> {
    while (this.buffer.length === 0) {
      const next = await this.guard.wait(this.iterator.next());
      if (next.done) return null;
      const v = next.value;
      this.buffer = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array | string);
    }
    const b = this.buffer.length <= max ? this.buffer : this.buffer.subarray(0, max);
    this.buffer = this.buffer.subarray(b.length);
    this.position += b.length;
    return b;
  }

  /** Exactly `n` bytes, or null when the input ends first. */
  async exactly(n: number): Promise<Buffer | null> {
    if (n === 0) return EMPTY;
    const first = await this.some(n);
    if (first === null || first.length === n) return first;
    const parts = [first];
    for (let got = first.length; got < n;) {
      const b = await this.some(n - got);
      if (b === null) return null;
      parts.push(b);
      got += b.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Skips `n` bytes; false when the input ends first. */
  async skip(n: number): Promise<boolean> {
    for (let left = n; left > 0;) {
      const b = await this.some(left);
      if (b === null) return false;
      left -= b.length;
    }
    return true;
  }

  unread(b: Buffer): void {
    if (b.length === 0) return;
    this.buffer = this.buffer.length ? Buffer.concat([b, this.buffer]) : b;
    this.position -= b.length;
  }
}

/** Resolves once `w` has processed `chunk`. zlib reports bad data as an 'error' event and then
 * never calls the write callback, so the event settles the promise too. */
function written(w: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.write(chunk, (err) => {
      w.off('error', reject);
      if (err) reject(err);
      else resolve();
    });
  });
}

function drained(w: Writable): Promise<void> {
  return new Promise((resolve) => w.once('drain', resolve));
}
