import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { DecodeError } from './errors';
import { ByteLimit } from './limit';
import { extractZipEntry } from './zip';

export type Compression = 'none' | 'gzip' | 'zip';

export interface DecompressOptions {
  compression: Compression;
  /** Bound on the decompressed bytes; more fails the stream with a DecodeError. */
  maxBytes: number;
  /** Human name of the file for error messages. */
  source: string;
  /**
   * For zip: which entry to read. Default: the first entry whose name ends with `.csv` (macOS
   * `__MACOSX/` and `._*` metadata excluded). Exactly one entry is streamed.
   */
  zipEntry?: (name: string) => boolean;
}

/** `1f 8b` is gzip, `PK\3\4` (or the `PK\5\6` of an empty archive) is zip, anything else is plain. */
export function sniffCompression(firstBytes: Buffer): Compression {
  const b = firstBytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b) {
    if ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6)) return 'zip';
  }
  return 'none';
}

/**
 * Decompresses `input` as a stream of bytes. Backpressure goes all the way back: when the consumer
 * stops reading, the decompressor stops and so does the reading of `input`.
 *
 * Errors of `input` itself (e.g. the HTTP body failing) come out unchanged; problems with the data
 * (corrupt, truncated, too large) come out as DecodeError. Destroying the returned stream also
 * destroys `input`.
 */
export function decompress(
  input: NodeJS.ReadableStream | Readable,
  opts: DecompressOptions,
): Readable {
  if (!(opts.maxBytes > 0)) {
    throw new DecodeError(`${opts.source}: maxBytes must be positive, got ${opts.maxBytes}`);
  }
  const src = input as Readable;
  const out = new ByteLimit(opts.maxBytes, opts.source);
  // Whatever ends the output (done, destroyed by the consumer, failed) releases the input.
  out.once('close', () => destroyQuietly(src));

  switch (opts.compression) {
    case 'none':
      src.on('error', (err: Error) => out.destroy(err));
      src.pipe(out);
      break;
    case 'gzip': {
      const gunzip = zlib.createGunzip();
      src.on('error', (err: Error) => out.destroy(err));
      gunzip.on('error', (err: Error) => out.destroy(gzipError(err, opts.source)));
      out.once('close', () => gunzip.destroy());
      src.pipe(gunzip).pipe(out);
      break;
    }
    case 'zip':
      extractZipEntry(src, out, opts).then(
        () => out.end(),
        (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
      );
      break;
    default:
      throw new DecodeError(
        `${opts.source}: unknown compression ${JSON.stringify(opts.compression)}`,
      );
  }
  return out;
}

function destroyQuietly(stream: Readable): void {
  // Plain NodeJS.ReadableStream objects may have no destroy().
  if (typeof stream.destroy === 'function' && !stream.destroyed) stream.destroy();
}

function gzipError(err: Error & { code?: string }, source: string): DecodeError {
  if (err.code === 'Z_BUF_ERROR') {
    return new DecodeError(
      `${source}: the gzip file is truncated (the data ended before the compressed stream was complete)`,
      'system_error',
      err.message,
    );
  }
  return new DecodeError(
    `${source}: the file is not valid gzip data or is corrupt (${err.message})`,
    'system_error',
    err.stack,
  );
}
