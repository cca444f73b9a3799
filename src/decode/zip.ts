import { stat } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import * as yauzl from 'yauzl';
import { readHead, sniffCompression } from './decompress';
import { DecodeError, quoteValue } from './errors';
import { tooLarge } from './limit';

/*
 * One entry of a zip file on disk, read by yauzl from the central directory (so an archive cut
 * anywhere fails before any data flows). yauzl checks the sizes; the CRC-32 is checked here.
 */

const STORED = 0;
const DEFLATED = 8;
const MAX_LISTED_ENTRIES = 20;

export interface ZipOptions {
  source: string;
  maxBytes: number;
  /** Which entry to read. Default: the first `.csv` file that is not macOS metadata. */
  zipEntry?: (name: string) => boolean;
}

/** Default entry choice: a `.csv` file that is not macOS metadata (`__MACOSX/`, `._name`). */
export function isCsvEntry(name: string): boolean {
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
  const zip = await yauzl
    .openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true })
    .catch(async (err: unknown) => {
      throw await openError(path, opts.source, err);
    });
  try {
    const entry = await findEntry(zip, opts);
    const data = await zip.openReadStreamPromise(entry).catch((err: unknown) => {
      throw archiveError(opts.source, err);
    });
    return checked(data, entry, opts.source);
  } finally {
    // An open entry stream keeps the file open until it is done.
    zip.close();
  }
}

async function findEntry(zip: yauzl.ZipFile, opts: ZipOptions): Promise<yauzl.Entry> {
  const wanted = opts.zipEntry ?? isCsvEntry;
  const seen: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      seen.push(entry.fileName);
      if (wanted(entry.fileName)) return readable(entry, opts);
    }
  } catch (err) {
    throw archiveError(opts.source, err);
  }
  const listed = seen.slice(0, MAX_LISTED_ENTRIES).map(quoteValue).join(', ');
  const more = seen.length > MAX_LISTED_ENTRIES ? `, … (${seen.length} in all)` : '';
  const names = seen.length ? listed + more : 'none';
  throw new DecodeError(
    `${opts.source}: the zip archive has no entry to read ` +
      `(${opts.zipEntry ? 'none matches the requested entry' : 'expected a .csv file'}); entries: ${names}`,
  );
}

/** The entry, when this reader can extract it within the limit. */
function readable(entry: yauzl.Entry, opts: ZipOptions): yauzl.Entry {
  const name = quoteValue(entry.fileName);
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
    private readonly entry: yauzl.Entry,
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
        `entry ${quoteValue(this.entry.fileName)} fails its CRC-32 check ` +
          `(the archive says ${hex(expected)}, the data gives ${hex(this.crc)})`,
      ),
    );
  }
}

function checked(data: Readable, entry: yauzl.Entry, source: string): Readable {
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
    const start = head.length ? `it starts with 0x${head.toString('hex')}` : 'it is empty';
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
function dataError(source: string, entry: yauzl.Entry, err: unknown): Error {
  if (err instanceof DecodeError || isSystemError(err)) return err;
  const name = quoteValue(entry.fileName);
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

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
