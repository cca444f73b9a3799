import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';

/** The slowest a download's body may arrive: at least `bytes` in every window of `windowMs`. */
export interface MinThroughput {
  bytes: number;
  windowMs: number;
}

export const DEFAULT_MIN_THROUGHPUT: MinThroughput = { bytes: 64 * 1024, windowMs: 30_000 };

/**
 * Passes a body through, and destroys it when a window goes by with fewer bytes than the minimum
 * while the reader was waiting for them: an idle timeout alone never ends a body that drips one
 * byte every few seconds. A reader that is itself slow (bytes wait unread) is not counted.
 */
class ThroughputWatch extends Transform {
  private inWindow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly min: MinThroughput) {
    super();
  }

  override _read(size: number): void {
    // The windows start when someone reads, not when the response arrives.
    if (!this.timer && !this.destroyed) {
      this.timer = setInterval(() => this.endWindow(), this.min.windowMs);
      this.timer.unref();
    }
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.inWindow += chunk.length;
    done(null, chunk);
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    done(err);
  }

  private endWindow(): void {
    const readerWaiting = this.readableLength === 0 && this.writableLength === 0;
    if (readerWaiting && this.inWindow < this.min.bytes) {
      const seconds = Number((this.min.windowMs / 1000).toFixed(1));
      this.destroy(
        Object.assign(
          new Error(
            `the download slowed to ${this.inWindow} bytes in ${seconds} s (at least ${this.min.bytes} are expected)`,
          ),
          { code: 'ERR_DOWNLOAD_TOO_SLOW' },
        ),
      );
    }
    this.inWindow = 0;
  }
}

/** `body`, watched for a minimum throughput; destroying either end destroys both. */
export function watchThroughput(body: Readable, min: MinThroughput): Readable {
  // Errors reach the reader through the returned stream.
  return pipeline(body, new ThroughputWatch(min), () => {});
}
