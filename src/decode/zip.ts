import { stat } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import * as yauzl from 'yauzl';
import { readHead, sniffCompression } from './decompress';
import { DecodeError } from './errors';
import { tooLarge } from './limit';

/*
 * One entry of a zip file on disk, read by yauzl from the central directory (so an archive cut
 * anywhere fails before any data flows). yauzl checks the sizes; the CRC-32 is checked here.
 */

const STORED = 0;
const DEFLATED = 8;
/** Bound on the entries read from one archive: an export is one file, or a few parts. */
const MAX_ENTRIES = 1000;

export interface ZipOptions {
  source: string;
  maxBytes: number;
  /** Which entry to read. Default: the first `.csv` file that is not macOS metadata. */
  zipEntry?: (name: string) => boolean;
}

/** Default entry choice: a `.csv` file that is not macOS metadata (`__MACOSX/`, `._name`). */
function isCsvEntry(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return (
    name.toLowerCase().endsWith('.csv') && !name.startsWith('__MACOSX/') && !base.startsWith('._')
  );
}

/**
 * The bytes of the chosen entry of the zip file at `path`, inflated, with backpressure. Data that
 * does not match the entry's declared size or CRC-32 fails the stream with a DecodeError. The file
 * stays open until the stream ends or is destroyed.
 */
export async function openZipEntry(path: string, opts: ZipOptions): Promise<Readable> {
  const zip = await openZip(path, opts.source);
  try {
    const [first] = await chosenEntries(zip, opts);
    return await openEntry(zip, first, opts.source);
  } finally {
    // An open entry stream keeps the file open until it is done.
    zip.close();
  }
}

/** One entry of an archive being read: its place among the chosen entries, and its bytes. */
export interface ZipPart {
  /** 1-based, in archive order, among the entries read. */
  index: number;
  count: number;
  data: Readable;
}

/**
 * Every chosen entry of the zip at `path` (default: every CSV file), one after the other in
 * archive order: an entry is opened when the consumer asks for the next one, so one is read at a
 * time. A vendor that splits a big export into parts has all of them read, not just the first.
 */
export async function* openZipEntries(path: string, opts: ZipOptions): AsyncGenerator<ZipPart> {
  const zip = await openZip(path, opts.source);
  let current: Readable | undefined;
  try {
    const entries = await chosenEntries(zip, opts);
    // Their sum is bound too: the parts of one export share its limit.
    const total = entries.reduce((n, e) => n + e.uncompressedSize, 0);
    if (total > opts.maxBytes) throw tooLarge(opts.source, opts.maxBytes);
    for (const [i, entry] of entries.entries()) {
      current = await openEntry(zip, entry, opts.source);
      yield { index: i + 1, count: entries.length, data: current };
      current.destroy();
    }
  } finally {
    current?.destroy();
    zip.close();
  }
}

async function openZip(path: string, source: string): Promise<yauzl.ZipFile> {
  return yauzl
    .openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true })
    .catch(async (err: unknown) => {
      throw await openError(path, source, err);
    });
}

async function openEntry(zip: yauzl.ZipFile, entry: Chosen, source: string): Promise<Readable> {
  const data = await zip.openReadStreamPromise(entry).catch((err: unknown) => {
    throw archiveError(source, err);
  });
  return checked(data, entry, source);
}

/**
 * An entry to read, with its 1-based position in the archive: errors name entries by position,
 * as their names are bytes of the download (which never appear in an error).
 */
type Chosen = yauzl.Entry & { position: number };

/** The entries to read, in archive order; none is an error. */
async function chosenEntries(zip: yauzl.ZipFile, opts: ZipOptions): Promise<Chosen[]> {
  const wanted = opts.zipEntry ?? isCsvEntry;
  const chosen: Chosen[] = [];
  let files = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      files++;
      if (!wanted(entry.fileName)) continue;
      if (chosen.length >= MAX_ENTRIES) {
        throw new DecodeError(
          `${opts.source}: the zip archive has more than ${MAX_ENTRIES} entries to read; an export has one or a few`,
        );
      }
      chosen.push(readable(Object.assign(entry, { position: files }), opts));
    }
  } catch (err) {
    throw archiveError(opts.source, err);
  }
  if (chosen.length === 0) {
    throw new DecodeError(
      `${opts.source}: the zip archive has no entry to read ` +
        `(${opts.zipEntry ? 'none matches the requested entry' : 'expected a .csv file'}); it has ${files} file${files === 1 ? '' : 's'}`,
    );
  }
  return chosen;
}

/** The entry, when this reader can extract it within the limit. */
function readable(entry: Chosen, opts: ZipOptions): Chosen {
  const name = `${entry.position}`;
  if (entry.isEncrypted()) {
    throw new DecodeError(`${opts.source}: zip entry ${name} is encrypted, which is not supported`);
  }
  const method = entry.compressionMethod;
  if (method !== STORED && method !== DEFLATED) {
    throw new DecodeError(
      `${opts.source}: zip entry ${name} uses compression method ${method}; ` +
        'only stored (0) and deflate (8) are supported',
    );
  }
  // yauzl holds the data to this size, so a bomb fails here, before inflating anything.
  if (entry.uncompressedSize > opts.maxBytes) throw tooLarge(opts.source, opts.maxBytes);
  return entry;
}

/** Passes the entry's data through, and fails at its end unless the CRC-32 matches. */
class Crc32Check extends Transform {
  private crc = 0;

  constructor(
    private readonly entry: Chosen,
    private readonly source: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.crc = zlib.crc32(chunk, this.crc);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const expected = this.entry.crc32;
    if (this.crc === expected) return done();
    done(
      corrupt(
        this.source,
        `entry ${this.entry.position} fails its CRC-32 check ` +
          `(the archive says ${hex(expected)}, the data gives ${hex(this.crc)})`,
      ),
    );
  }
}

function checked(data: Readable, entry: Chosen, source: string): Readable {
  const out = new Crc32Check(entry, source);
  data.on('error', (err: unknown) => out.destroy(dataError(source, entry, err)));
  // Whatever ends the output (done, destroyed by the consumer, failed) releases the file.
  out.once('close', () => data.destroy());
  return data.pipe(out);
}

/** yauzl found no end record: the file is not a zip at all, or it was cut. */
async function openError(path: string, source: string, err: unknown): Promise<Error> {
  const message = errorText(err);
  if (!/central directory record signature not found|Invalid comment length/.test(message)) {
    return archiveError(source, err);
  }
  const head = await readHead(path, 4);
  if (sniffCompression(head) !== 'zip') {
    const start = head.length ? 'it does not start like one' : 'it is empty';
    return new DecodeError(`${source}: the file is not a zip archive (${start})`);
  }
  const { size } = await stat(path);
  return new DecodeError(
    `${source}: the zip file is truncated (incomplete): it ends after ${size} bytes, ` +
      'before its end-of-central-directory record',
    'system_error',
    message,
  );
}

/** An error while reading the entry's data, in terms of the archive. */
function dataError(source: string, entry: Chosen, err: unknown): Error {
  if (err instanceof DecodeError || isSystemError(err)) return err;
  const name = `${entry.position}`;
  const message = errorText(err);
  const what = /^(too many|not enough) bytes in the stream/.test(message)
    ? `entry ${name} does not hold the ${entry.uncompressedSize} bytes the archive declares`
    : `the compressed data of entry ${name} is invalid or incomplete`;
  return corrupt(source, `${what} (${message})`, err);
}

/** File system errors and our own come out unchanged; anything else is a damaged archive. */
function archiveError(source: string, err: unknown): Error {
  if (err instanceof DecodeError || isSystemError(err)) return err;
  return corrupt(source, errorText(err), err);
}

function corrupt(source: string, what: string, cause?: unknown): DecodeError {
  const internal = cause instanceof Error ? cause.stack : undefined;
  return new DecodeError(`${source}: the zip file is corrupt: ${what}`, 'system_error', internal);
}

/** File system errors (ENOENT, EIO, ...) carry an errno code; zlib's carry Z_ codes. */
function isSystemError(err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/**
 * The error's text without bytes of the archive: yauzl quotes bad signatures in hex and bad entry
 * names as they are, and no downloaded byte goes into an error.
 */
function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/: 0x[0-9a-f]+$/i, '')
    .replace(/^(invalid relative path|absolute path|invalid characters in fileName)\b.*$/, '$1');
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
