import { type CsvOptions, csvRows } from './csv';
import { openDecompressed } from './open';
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
 */
export async function* fileRows(
  file: DownloadedFile,
  opts: FileRowsOptions,
): AsyncGenerator<Raw[][]> {
  const bytes = await openDecompressed(file.path, {
    contentEncoding: file.contentEncoding,
    maxBytes: opts.maxBytes,
    source: opts.source,
    highWaterMark: 256 * 1024,
  });
  yield* csvRows(bytes, opts);
}
