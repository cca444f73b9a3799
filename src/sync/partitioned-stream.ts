import { asConnectorError, ConnectorError } from '../airbyte/errors';
import { QualityReport } from '../decode/quality';
import type { JsonObject } from '../airbyte/protocol';
import type { ReadContext, Stream, StreamItem } from '../airbyte/stream';
import { type Outcome, runAhead } from '../exports/run-ahead';
import { readJsonResource } from '../resources';
import { parseState, type StateLayout, StreamState } from './state';

/** One unit of a sync's work (an export, a day of pages), in one state partition. */
export interface UnitOfWork {
  /** The state partition it advances; undefined for a stream with one cursor. */
  partition?: string;
  /** Words for logs and errors: "channel c2", "OneSignal app onesignal.apps[1]". */
  partitionLabel?: string;
}

/**
 * What reading a unit yields: records (as RecordText: data JSON, then any meta), and cursor
 * positions now complete.
 */
export type UnitItem =
  | { records: string[] }
  /** `partition` defaults to the unit's: one unit may complete several (a file of many apps). */
  | { advance: string; partition?: string };

/** What a unit's read and plan may use: the read's context, the cursors, and the stream's log rules. */
export interface SyncContext extends ReadContext {
  cursors: StreamState;
  /** Reports a CSV column this connector does not know: logged once per sync and stream. */
  unknownColumn(header: string): void;
  /** Values synced as null because they could not be converted: `quality.file(...)` per file. */
  quality: QualityReport;
  /** Whether a partition already failed in this sync (isolated streams): it asks nothing more. */
  partitionFailed(partition: string | undefined): boolean;
}

/**
 * What a stream says about itself; the template does the rest. `fetch` gets a unit's data
 * (usually an export, spooled to disk) and may run ahead of the unit being read; `read` turns it
 * into records and cursor advances.
 */
export interface PartitionedStreamDefinition<U extends UnitOfWork, F> {
  name: string;
  primaryKey: string[][];
  /** The record field the cursor follows (the state may keep it coarser, e.g. by day). */
  cursorField: string;
  state: StateLayout;
  /** Units fetched ahead of the one being read (Infinity: all at once). */
  ahead: number;
  /**
   * true: a failing unit fails only its partition (its later units are skipped, so its cursor
   * cannot jump a gap); the other partitions still sync and the stream fails at the end.
   */
  isolatePartitions: boolean;
  /** This sync's units, in emit order. */
  plan(ctx: SyncContext): Promise<U[]>;
  fetch(unit: U, ctx: SyncContext): Promise<F>;
  /** Frees what `fetch` made (a spooled file); called exactly once for every fetched unit. */
  dispose?(fetched: F): Promise<void>;
  read(unit: U, fetched: F, ctx: SyncContext): AsyncIterable<UnitItem>;
  /**
   * Turns a state saved by an earlier version into today's layout (e.g. one cursor into one per
   * app); it sees the raw state, before validation, and returns anything else unchanged.
   */
  upgradeState?(raw: unknown): unknown;
  /** After the last unit (or a failure), e.g. to log a summary of the sync. */
  finish?(ctx: SyncContext): void;
}

/**
 * The one stream template of the connector. It owns the state (validated, advanced, never moved
 * back), the run-ahead over the units, the disposal of what was fetched, checkpoints after every
 * advance and every unit, partition isolation, and the once-per-sync log rules.
 */
export class PartitionedStream<U extends UnitOfWork, F> implements Stream {
  readonly name: string;
  readonly primaryKey: string[][];
  readonly cursorField: string[];

  constructor(private readonly def: PartitionedStreamDefinition<U, F>) {
    this.name = def.name;
    this.primaryKey = def.primaryKey;
    this.cursorField = [def.cursorField];
  }

  schema(): JsonObject {
    return readJsonResource<JsonObject>('schemas', `${this.name}.json`);
  }

  parseState(raw: unknown): JsonObject {
    const upgraded = this.def.upgradeState ? this.def.upgradeState(raw) : raw;
    return parseState(this.def.state, upgraded, this.name);
  }

  async *read(read: ReadContext): AsyncGenerator<StreamItem> {
    const def = this.def;
    const unknown = new Set<string>();
    const failed = new Map<string | undefined, ConnectorError>();
    const ctx: SyncContext = {
      ...read,
      cursors: new StreamState(def.state, read.state),
      unknownColumn: (header) => {
        if (unknown.has(header)) return;
        unknown.add(header);
        read.logger.warn(
          `${this.name}: the export has a column ${JSON.stringify(header)} that this connector does not know; it is not synced.`,
        );
      },
      quality: new QualityReport(this.name, read.logger),
      partitionFailed: (partition) => def.isolatePartitions && failed.has(partition),
    };
    const units = await def.plan(ctx);
    const dispose = (f: F) =>
      Promise.resolve()
        .then(() => def.dispose?.(f))
        .catch(() => undefined);
    const outcomes = runAhead(
      units,
      (u) =>
        def.isolatePartitions && failed.has(u.partition)
          ? Promise.reject(new Skipped())
          : def.fetch(u, ctx),
      { ahead: def.ahead, dispose },
    );
    // A note set while a unit is fetched (an export in flight) is checkpointed at once, even
    // while the stream waits for that fetch: a sync stopped then leaves it in the state.
    let notesSeen = ctx.cursors.version;
    const noteCheckpoint = (): StreamItem | undefined => {
      if (ctx.cursors.version === notesSeen) return undefined;
      notesSeen = ctx.cursors.version;
      return { kind: 'checkpoint', state: ctx.cursors.snapshot() };
    };
    try {
      for (;;) {
        const next = outcomes.next();
        let step: IteratorResult<Outcome<U, F>> | 'note';
        while (
          (step = await Promise.race([next, ctx.cursors.changed().then(() => 'note' as const)])) ===
          'note'
        ) {
          const cp = noteCheckpoint();
          if (cp) yield cp;
        }
        if (step.done) break;
        const outcome = step.value;
        const unit = outcome.item;
        if (def.isolatePartitions && failed.has(unit.partition)) {
          if (outcome.ok) await dispose(outcome.value);
          continue;
        }
        try {
          if (!outcome.ok) throw outcome.error;
          try {
            for await (const item of def.read(unit, outcome.value, ctx)) {
              if ('records' in item) {
                yield { kind: 'records', json: item.records };
                const cp = noteCheckpoint();
                if (cp) yield cp;
              } else {
                notesSeen = ctx.cursors.version;
                yield {
                  kind: 'checkpoint',
                  state: ctx.cursors.advance(
                    'partition' in item ? item.partition : unit.partition,
                    item.advance,
                  ),
                };
              }
            }
          } finally {
            await dispose(outcome.value);
          }
          notesSeen = ctx.cursors.version;
          yield { kind: 'checkpoint', state: ctx.cursors.snapshot() };
        } catch (err) {
          if (!def.isolatePartitions) {
            // What the stream started (an export in flight) stays in its last state.
            const cp = noteCheckpoint();
            if (cp) yield cp;
            throw err;
          }
          const e = asConnectorError(err);
          ctx.logger.error(
            `${this.name}: ${unit.partitionLabel ?? 'a partition'} failed: ${e.message}`,
          );
          failed.set(unit.partition, e);
        }
      }
    } finally {
      // Stops the run-ahead: what it fetched and nobody read is disposed.
      await outcomes.return(undefined);
      // The sync's summary is logged also when a unit failed: it tells what the sync saw.
      def.finish?.(ctx);
      ctx.quality.summary();
    }
    // Notes changed since the last checkpoint (an export requested or freed) are kept.
    const last = noteCheckpoint();
    if (last) yield last;
    const failures = [...failed.values()];
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const partitions = new Set(units.map((u) => u.partition)).size;
      const noun = def.state.partitions?.label ?? 'partition';
      throw new ConnectorError(
        `${failures.length} of ${partitions} ${noun}s failed: ${failures.map((f) => f.message).join(' | ')}`,
        failures[0].failureType,
      );
    }
  }
}

/** A unit not fetched because its partition already failed. */
class Skipped extends Error {}
