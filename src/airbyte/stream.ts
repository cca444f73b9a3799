import type { Logger } from './logger';
import type { JsonObject, SyncMode } from './protocol';

/** What a stream's `read` yields: records, and checkpoints after each completed unit of work. */
export type StreamItem =
  | { kind: 'record'; data: JsonObject }
  /** Many records at once, each already serialized as the JSON of its data (a hot path's form). */
  | { kind: 'records'; json: string[] }
  /** Everything yielded before this is complete: a resumed sync may start from `state`. */
  | { kind: 'checkpoint'; state: JsonObject };

export interface ReadContext {
  logger: Logger;
  syncMode: SyncMode;
  /**
   * The stream's saved state (already validated by `parseState`), or undefined. In full refresh it
   * is the state of an interrupted attempt of the same job: the read continues after it.
   */
  state: JsonObject | undefined;
  /** Emits a TRACE ESTIMATE of this stream's rows. */
  estimate(rows: number): void;
}

/**
 * A stream declares its schema, keys and cursor, and reads. The runtime owns everything else:
 * STATE messages and their record counts, stream statuses, errors. A stream only says *when* a
 * unit of work is complete (a checkpoint), and what the state is at that point.
 */
export interface Stream {
  readonly name: string;
  readonly primaryKey: string[][];
  readonly cursorField: string[];
  schema(): JsonObject;
  /**
   * Validates a saved state before any read starts; throws a config_error naming the problem.
   * Returns the state to use.
   */
  parseState(state: unknown): JsonObject;
  read(ctx: ReadContext): AsyncIterable<StreamItem>;
}
