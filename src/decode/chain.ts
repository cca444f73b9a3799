import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { type CsvOptions, csvRows } from './csv';
import { decompress, sniffCompression } from './decompress';
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
  const compression =
    file.contentEncoding === 'gzip' ? 'gzip' : sniffCompression(await readHead(file.path, 4));
  const bytes = decompress(createReadStream(file.path, { highWaterMark: 256 * 1024 }), {
    compression,
    maxBytes: opts.maxBytes,
    source: opts.source,
  });
  yield* csvRows(bytes, opts);
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
