import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { checkMaxBytes, decompress, readHead, sniffCompression } from './decompress';
import { openZipEntries, openZipEntry } from './zip';

export interface OpenOptions {
  /** Content-Encoding of the HTTP response, if any ("gzip"). */
  contentEncoding?: string;
  /** Bound on the decompressed bytes; more fails the stream with a DecodeError. */
  maxBytes: number;
  /** Human name of the file for error messages. */
  source: string;
  /**
   * For a zip: which entry to read. Default: the first entry whose name ends with `.csv` (macOS
   * `__MACOSX/` and `._*` metadata excluded). Exactly one entry is streamed.
   */
  zipEntry?: (name: string) => boolean;
  /** Read size for plain and gzip files. */
  highWaterMark?: number;
}

/**
 * The decompressed bytes of a downloaded file: gzip when the response said so or the file starts
 * like one, the chosen entry of a zip, or the file as it is. Destroying the stream closes the file.
 */
export async function openDecompressed(path: string, opts: OpenOptions): Promise<Readable> {
  checkMaxBytes(opts);
  const { maxBytes, source } = opts;
  const compression = /^(x-)?gzip$/i.test(opts.contentEncoding ?? '')
    ? 'gzip'
    : sniffCompression(await readHead(path, 4));
  if (compression === 'zip') {
    return decompress(await openZipEntry(path, opts), { compression: 'none', maxBytes, source });
  }
  const file = createReadStream(path, { highWaterMark: opts.highWaterMark });
  return decompress(file, { compression, maxBytes, source });
}

/** A part of a downloaded file: the file itself, or one entry of a zip that holds several. */
export interface FilePart {
  /** `zip entry 2 of 3` when the file has several parts, for error messages. */
  label?: string;
  bytes: Readable;
}

/**
 * Like openDecompressed, but a zip yields every entry to read (by default every CSV file), one
 * after the other; any other file is one part.
 */
export async function* openDecompressedParts(
  path: string,
  opts: OpenOptions,
): AsyncGenerator<FilePart> {
  checkMaxBytes(opts);
  const { maxBytes, source } = opts;
  const zip =
    !/^(x-)?gzip$/i.test(opts.contentEncoding ?? '') &&
    sniffCompression(await readHead(path, 4)) === 'zip';
  if (!zip) {
    yield { bytes: await openDecompressed(path, opts) };
    return;
  }
  for await (const part of openZipEntries(path, opts)) {
    yield {
      label: part.count > 1 ? `zip entry ${part.index} of ${part.count}` : undefined,
      bytes: decompress(part.data, { compression: 'none', maxBytes, source }),
    };
  }
}
