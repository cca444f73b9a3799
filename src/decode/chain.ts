import { type CsvOptions, csvRows, normalizeHeader } from './csv';
import { DecodeError } from './errors';
import { openDecompressedParts } from './open';
import type { Raw } from './records';

/** A file on disk as downloaded: its body as sent, and the response's Content-Encoding. */
export interface DownloadedFile {
  path: string;
  contentEncoding?: string;
}

export interface FileRowsOptions extends CsvOptions {
  /** Bound on the decompressed bytes. */
  maxBytes: number;
}

/**
 * The decode chain every export goes through: file -> decompress (sniffed: gzip, zip or plain)
 * -> CSV rows in `columns` order, in batches. Backpressure reaches back to the file.
 *
 * A zip with several CSV entries (an export split into parts) is read whole, entry after entry;
 * each part has its own header, and all must have the same columns, or the file is an error.
 */
export async function* fileRows(
  file: DownloadedFile,
  opts: FileRowsOptions,
): AsyncGenerator<Raw[][]> {
  let first: { columns: string; count: number } | undefined;
  const parts = openDecompressedParts(file.path, {
    contentEncoding: file.contentEncoding,
    maxBytes: opts.maxBytes,
    source: opts.source,
    highWaterMark: 256 * 1024,
  });
  for await (const part of parts) {
    const source = part.label ? `${opts.source} (${part.label})` : opts.source;
    const onHeader = (headers: readonly string[]) => {
      const columns = headers.map(normalizeHeader).sort().join('\u0000');
      if (!first) first = { columns, count: headers.length };
      else if (columns !== first.columns) {
        throw new DecodeError(
          `${source}: its header differs from the first entry's (${headers.length} and ${first.count} columns); ` +
            'the parts of one export must have the same columns',
        );
      }
    };
    yield* csvRows(part.bytes, { ...opts, source, onHeader });
  }
}
