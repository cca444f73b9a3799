import { Transform, TransformCallback } from 'node:stream';
import { DecodeError, describeBytes } from './errors';

/**
 * Passes bytes through and fails once more than `maxBytes` went by. It is the last stage of every
 * chain, so it is also where the consumer's backpressure enters.
 */
export class ByteLimit extends Transform {
  private total = 0;

  constructor(
    readonly maxBytes: number,
    readonly source: string,
  ) {
    super();
  }

  /** Bytes passed so far. */
  get bytes(): number {
    return this.total;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.maxBytes) {
      done(tooLarge(this.source, this.maxBytes));
      return;
    }
    done(null, chunk);
  }
}

export function tooLarge(source: string, maxBytes: number): DecodeError {
  return new DecodeError(
    `${source}: the decompressed data is larger than the limit of ${describeBytes(maxBytes)} ` +
      `(maxBytes); the export is bigger than allowed, or the file is corrupt or a decompression bomb`,
  );
}
