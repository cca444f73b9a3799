import { Redactor } from './redact';
import type { LogLevel, Logger } from './logger';
import type { FailureType } from './errors';
import type { JsonObject, StreamDescriptor, StreamStatus } from './protocol';

const FLUSH_BYTES = 64 * 1024;

/**
 * Writes Airbyte messages to stdout, one JSON object per line.
 *
 * Records are batched into 64 KiB writes (a write per record costs a syscall on a pipe) and the
 * writer honours backpressure: when the stream's buffer is full, `record()` returns a promise that
 * resolves on 'drain', and the caller awaits it. Every other message is redacted of secrets and
 * flushed at once, so logs and states reach the platform promptly.
 */
export class MessageWriter {
  private chunks: string[] = [];
  private size = 0;
  private drain: Promise<void> | undefined;
  private release: (() => void) | undefined;
  /** The stream closed under us (the reader went away): nothing more can be delivered. */
  private gone = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    readonly redactor: Redactor,
    /**
     * Aborted when the process stops early: from then on nothing more is handed to `out`, so
     * that what is under way can be flushed whole before the exit (a stop ends on a line boundary).
     */
    private readonly halt?: AbortSignal,
  ) {
    // A wait for 'drain' must not hang on a stream that will never drain.
    out.once('close', () => {
      this.gone = true;
      this.release?.();
    });
  }

  /** Emits a RECORD. Returns a promise only when the caller must wait for the consumer. */
  record(streamJson: string, data: unknown, emittedAt: number): Promise<void> | undefined {
    const line = `{"type":"RECORD","record":{"stream":${streamJson},"data":${JSON.stringify(data)},"emitted_at":${emittedAt}}}\n`;
    this.chunks.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_BYTES) return this.flush();
    return this.drain;
  }

  /**
   * Emits a RECORD whose data is already serialized: `dataJson` is a RecordText (see
   * src/decode/records.ts), the data's JSON, followed by `,"meta":{…}` when a value was nulled.
   */
  recordJson(streamJson: string, dataJson: string, emittedAt: number): Promise<void> | undefined {
    const line = `{"type":"RECORD","record":{"stream":${streamJson},"data":${dataJson},"emitted_at":${emittedAt}}}\n`;
    this.chunks.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_BYTES) return this.flush();
    return this.drain;
  }

  /** Emits any other message, redacted, and flushes. */
  message(msg: JsonObject): Promise<void> | undefined {
    return this.line(JSON.stringify(msg));
  }

  /** A STREAM state with `sourceStats.recordCount` written as a float, as the Python CDK does. */
  state(
    stream: StreamDescriptor,
    streamState: JsonObject,
    recordCount: number,
  ): Promise<void> | undefined {
    const count = Number.isInteger(recordCount) ? `${recordCount}.0` : String(recordCount);
    const body = JSON.stringify({
      type: 'STATE',
      state: { type: 'STREAM', stream: { stream_descriptor: stream, stream_state: streamState } },
    });
    // Splice sourceStats in by hand: JSON.stringify would print 3.0 as 3.
    return this.line(`${body.slice(0, -2)},"sourceStats":{"recordCount":${count}}}}`);
  }

  log(level: LogLevel, message: string): Promise<void> | undefined {
    return this.message({ type: 'LOG', log: { level, message } });
  }

  streamStatus(stream: StreamDescriptor, status: StreamStatus): Promise<void> | undefined {
    return this.message({
      type: 'TRACE',
      trace: {
        type: 'STREAM_STATUS',
        emitted_at: Date.now(),
        stream_status: { stream_descriptor: stream, status },
      },
    });
  }

  error(
    message: string,
    failureType: FailureType,
    internalMessage?: string,
    stream?: StreamDescriptor,
  ): Promise<void> | undefined {
    const error: JsonObject = { message, failure_type: failureType };
    if (internalMessage) error.internal_message = internalMessage;
    if (stream) error.stream_descriptor = stream;
    return this.message({ type: 'TRACE', trace: { type: 'ERROR', emitted_at: Date.now(), error } });
  }

  estimate(name: string, rowEstimate: number): Promise<void> | undefined {
    return this.message({
      type: 'TRACE',
      trace: {
        type: 'ESTIMATE',
        emitted_at: Date.now(),
        estimate: { name, type: 'STREAM', row_estimate: rowEstimate },
      },
    });
  }

  /** Writes everything buffered; resolves when the stream has taken it (after 'drain' if needed). */
  flush(): Promise<void> | undefined {
    if (this.size > 0) {
      const text = this.chunks.length === 1 ? this.chunks[0] : this.chunks.join('');
      this.chunks = [];
      this.size = 0;
      if (this.halt?.aborted) return this.drain;
      if (!this.gone && !this.out.write(text) && !this.drain) {
        this.drain = new Promise((resolve) => {
          this.release = () => {
            this.drain = this.release = undefined;
            resolve();
          };
          this.out.once('drain', this.release);
        });
      }
    }
    return this.drain;
  }

  /** Flushes and waits until the data has been handed to the OS. */
  async close(): Promise<void> {
    await this.flush();
    if (this.gone) return;
    await new Promise<void>((resolve) => this.out.write('', () => resolve()));
  }

  private line(json: string): Promise<void> | undefined {
    const text = this.redactor.redact(json) + '\n';
    this.chunks.push(text);
    this.size += text.length;
    return this.flush();
  }
}

/** A Logger whose lines become Airbyte LOG messages. */
export class AirbyteLogger implements Logger {
  constructor(
    private readonly writer: MessageWriter,
    private readonly debugEnabled = process.env.LOG_LEVEL?.toLowerCase() === 'debug',
  ) {}
  error(message: string): void {
    void this.writer.log('ERROR', message);
  }
  warn(message: string): void {
    void this.writer.log('WARN', message);
  }
  info(message: string): void {
    void this.writer.log('INFO', message);
  }
  debug(message: string): void {
    if (this.debugEnabled) void this.writer.log('DEBUG', message);
  }
}
