import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { DecodeError } from './errors';
import { ByteLimit } from './limit';

export type Compression = 'none' | 'gzip' | 'zip';

export interface DecompressOptions {
  /** A zip needs its file (its directory is at the end): see openDecompressed. */
  compression: Exclude<Compression, 'zip'>;
  /** Bound on the decompressed bytes; more fails the stream with a DecodeError. */
  maxBytes: number;
  /** Human name of the file for error messages. */
  source: string;
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

/** The first `n` bytes of a file (fewer when it is shorter), e.g. to sniff its compression. */
export async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
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
  checkMaxBytes(opts);
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
    default:
      throw new DecodeError(
        `${opts.source}: unknown compression ${JSON.stringify(opts.compression)}`,
      );
  }
  return out;
}

export function checkMaxBytes(opts: { maxBytes: number; source: string }): void {
  if (!(opts.maxBytes > 0)) {
    throw new DecodeError(`${opts.source}: maxBytes must be positive, got ${opts.maxBytes}`);
  }
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
