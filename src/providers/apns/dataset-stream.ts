import {
  advance,
  dayValue,
  type DayWindow,
  dayWindow,
  parseDayState,
  parsePartitionedState,
} from '../../airbyte/day-cursor';
import { asConnectorError, ConnectorError, systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { ReadContext, Stream, StreamItem } from '../../airbyte/stream';
import type { ApnsConfig, Config } from '../../config';
import { type CsvColumn, csvRecords, openDecompressed } from '../../decode';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { JobTracker } from '../../exports/tracker';
import { HttpClient } from '../../http/client';
import { readJsonResource } from '../../resources';
import { addDays, type Day, daysBetween, todayUtc } from '../../util/time';
import { ApnsExportRepository, TOKEN_HEADER } from './export';

/** Channel exports in flight at once; Apple documents no limit, this keeps a sync polite. */
const CONCURRENT_EXPORTS = 4;
/** Apple keeps 30 days; endDate must be at least a day in the past. */
export const APNS_RETENTION_DAYS = 30;
/** The export of a 30-day window is small (a few rows per day); this bounds a broken one. */
const MAX_ROWS = 2_000_000;
const MAX_DECOMPRESSED_BYTES = 512 * 1024 ** 2;

export type ApnsTokenField =
  'delivery_metrics_token' | 'broadcast_app_token' | 'broadcast_channel_token';

/** What one APNs dataset says that differs from the others. */
export interface ApnsDataset {
  stream: string;
  dataset: string;
  tokenField: ApnsTokenField;
  /** The channel dataset is exported once per channel, with state per channel. */
  perChannel: boolean;
  primaryKey: string[][];
  columns: CsvColumn[];
  /** Maps a CSV row to its day and record; throws a DecodeError quoting a bad value. */
  toRecord(row: Record<string, string>, base: JsonObject): { day: Day; record: JsonObject };
  /** Orders a day's records, so that output is stable. */
  orderKey(record: JsonObject): string;
}

/** Apple's own hosts: a status URL Apple hands out may live on another of them. */
const isAppleHost = (u: URL) => /(^|\.)(apple\.com|icloud\.com)$/.test(u.hostname);

export function apnsHttpClient(apns: ApnsConfig, token: string, logger: Logger): HttpClient {
  return new HttpClient(logger, {
    credential: {
      origin: new URL(apns.api_url).origin,
      headers: { [TOKEN_HEADER]: token },
      alsoFor: isAppleHost,
    },
  });
}

export function exportEngine(
  config: Config,
  http: HttpClient,
  logger: Logger,
  tracker?: JobTracker,
): ExportEngine {
  return new ExportEngine(http, logger, {
    tracker,
    pollMaxMs: config.export_poll_max_interval_seconds * 1000,
    timeoutMs: config.export_timeout_minutes * 60_000,
  });
}

/** The request's dates: Apple wants endDate after startDate, so a one-day window asks for two. */
export function requestRange(from: Day, to: Day): { startDate: Day; endDate: Day } {
  return { startDate: from === to ? addDays(from, -1) : from, endDate: to };
}

/** One export's worth of a stream: the whole app, or one broadcast channel. */
interface Partition {
  channelId?: string;
  /** The config field naming it, for errors: `apns.channel_ids[1]`. */
  field?: string;
}

/** `{date}` for a stream of one partition, `{channels: {<id>: {date}}}` for channels. */
type ApnsState = { date?: Day; channels?: Record<string, { date: Day }> };

/**
 * A stream over one APNs dataset: one export for the whole window (per channel), its rows grouped
 * by day, then emitted day by day with a checkpoint after each day.
 */
export class ApnsDatasetStream implements Stream {
  readonly name: string;
  readonly primaryKey: string[][];
  readonly cursorField = ['date'];

  constructor(
    private readonly def: ApnsDataset,
    private readonly config: Config,
    private readonly apns: ApnsConfig,
  ) {
    this.name = def.stream;
    this.primaryKey = def.primaryKey;
  }

  schema(): JsonObject {
    return readJsonResource<JsonObject>('schemas', `${this.name}.json`);
  }

  parseState(raw: unknown): JsonObject {
    if (!this.def.perChannel) return parseDayState(raw, this.name);
    return parsePartitionedState(raw, this.name, {
      group: 'channels',
      label: 'channel',
      field: 'date',
      expected: 'a date written YYYY-MM-DD',
      normalize: dayValue,
    });
  }

  async *read(ctx: ReadContext): AsyncGenerator<StreamItem> {
    const state: ApnsState = structuredClone((ctx.state ?? {}) as ApnsState);
    const partitions: Partition[] = this.def.perChannel
      ? (this.apns.channel_ids ?? []).map((channelId, i) => ({
          channelId,
          field: `apns.channel_ids[${i}]`,
        }))
      : [{}];
    // Every channel's export is requested at once (Apple prepares them in parallel, and each can
    // take minutes); their records are emitted in config order, each channel's days in order.
    const tracker = new JobTracker(CONCURRENT_EXPORTS);
    const exports = partitions.map((p) => {
      const cursor = p.channelId ? state.channels?.[p.channelId]?.date : state.date;
      const ready = this.fetchPartition(p, cursor, ctx, tracker);
      ready.catch(() => undefined); // observed below, in order; never an unhandled rejection
      return { p, cursor, ready };
    });
    const failures: ConnectorError[] = [];
    for (const { p, cursor, ready } of exports) {
      try {
        const fetched = await ready;
        if (fetched) yield* this.emitPartition(p, cursor, fetched, state, ctx);
      } catch (err) {
        // One channel's failure does not stop the others; the stream still fails at the end.
        if (!this.def.perChannel) throw err;
        const e = asConnectorError(err);
        ctx.logger.error(`${this.name}: channel ${p.channelId} failed: ${e.message}`);
        failures.push(e);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new ConnectorError(
        `${failures.length} of ${partitions.length} channels failed: ${failures.map((f) => f.message).join(' | ')}`,
        failures[0].failureType,
      );
    }
  }

  /** Exports a partition's window and reads the file; undefined when there is nothing to read. */
  private async fetchPartition(
    p: Partition,
    cursor: Day | undefined,
    ctx: ReadContext,
    tracker: JobTracker,
  ): Promise<{ window: DayWindow; byDay: Map<Day, JsonObject[]> } | undefined> {
    const { logger } = ctx;
    const label = p.channelId ? `${this.name} channel ${p.channelId}` : this.name;
    const today = todayUtc();
    const window = dayWindow(
      {
        stream: label,
        startDate: this.config.start_date,
        cursor,
        lookbackDays: this.config.lookback_days,
        oldestDay: addDays(today, -APNS_RETENTION_DAYS),
        retention: `${APNS_RETENTION_DAYS} days Apple keeps`,
        lastDay: addDays(today, -1),
      },
      logger,
    );
    if (window.from > window.to) {
      logger.info(
        `${label}: nothing to read (${cursor ? `cursor ${cursor}` : `start ${window.from}`} is after ${window.to}).`,
      );
      return undefined;
    }
    logger.info(`${label}: reading ${window.from}..${window.to} in one export.`);
    const http = apnsHttpClient(this.apns, this.apns[this.def.tokenField] as string, logger);
    const repo = new ApnsExportRepository(http, {
      apiUrl: this.apns.api_url,
      teamId: this.apns.team_id,
      bundleId: this.apns.bundle_id,
      dataset: this.def.dataset,
      tokenField: this.def.tokenField,
      channelId: p.channelId,
      channelField: p.field,
      ...requestRange(window.from, window.to),
    });
    const file = await exportEngine(this.config, http, logger, tracker).run(repo);
    try {
      const base: JsonObject = { team_id: this.apns.team_id, bundle_id: this.apns.bundle_id };
      if (p.channelId) base.channel_id = p.channelId;
      return {
        window,
        byDay: await this.collect(file, window.from, window.to, repo.describe, base, logger),
      };
    } finally {
      await file.dispose();
    }
  }

  private *emitPartition(
    p: Partition,
    cursor: Day | undefined,
    { window, byDay }: { window: DayWindow; byDay: Map<Day, JsonObject[]> },
    state: ApnsState,
    ctx: ReadContext,
  ): Generator<StreamItem> {
    let total = 0;
    for (const rows of byDay.values()) total += rows.length;
    ctx.estimate(total);
    for (const day of daysBetween(window.from, window.to)) {
      const rows = byDay.get(day);
      if (rows) {
        rows.sort((a, b) => (this.def.orderKey(a) < this.def.orderKey(b) ? -1 : 1));
        for (const data of rows) yield { kind: 'record', data };
      }
      const date = advance(cursor, day);
      if (p.channelId) state.channels = { ...state.channels, [p.channelId]: { date } };
      else state.date = date;
      yield { kind: 'checkpoint', state: structuredClone(state) as JsonObject };
    }
  }

  /** Reads the whole file before emitting anything: Apple does not sort it by day. */
  private async collect(
    file: SpooledFile,
    from: Day,
    to: Day,
    source: string,
    base: JsonObject,
    logger: Logger,
  ): Promise<Map<Day, JsonObject[]>> {
    const bytes = await openDecompressed(file.path, {
      contentEncoding: file.contentEncoding,
      maxBytes: MAX_DECOMPRESSED_BYTES,
      source,
    });
    const rows = csvRecords(bytes, {
      columns: this.def.columns,
      source,
      onUnknownColumn: (h: string) =>
        logger.warn(
          `${this.name}: the export has a column ${JSON.stringify(h)} that this connector does not know; it is not synced.`,
        ),
    });
    const byDay = new Map<Day, JsonObject[]>();
    let count = 0;
    let outside = 0;
    for await (const row of rows) {
      if (++count > MAX_ROWS) {
        throw systemError(
          `${source}: more than ${MAX_ROWS} rows, far more than a ${APNS_RETENTION_DAYS}-day export holds.`,
        );
      }
      const { day, record } = this.def.toRecord(row, base);
      // The day before `from` is there when a one-day window was asked as two days.
      if (day < from || day > to) {
        if (day > to || day < addDays(from, -1)) outside++;
        continue;
      }
      let list = byDay.get(day);
      if (!list) byDay.set(day, (list = []));
      list.push(record);
    }
    if (outside)
      logger.warn(`${this.name}: ${outside} row(s) dated outside ${from}..${to} were ignored.`);
    return byDay;
  }
}
