import type { SharedConfig } from '../../config';
import type { PushwooshConfig } from './config';
import { fileRows } from '../../decode/chain';
import { metaOf, type Raw } from '../../decode/records';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { apiUrlOptions, HttpClient } from '../../http/client';
import { PageGuard } from '../../http/paging';
import {
  PartitionedStream,
  type SyncContext,
  type UnitOfWork,
} from '../../sync/partitioned-stream';
import { DAY_CURSOR } from '../../sync/state';
import { DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, type Day, daysBetween, todayUtc } from '../../util/time';
import { PushwooshApi } from './api';
import { DroppedRows, STATE_GROUP, upgradePushwooshLegacyState } from './applications';
import { messageLogRecord, rowApplication } from './message-log';
import { MESSAGE_LOG_ONLY, trackingLogMapping } from './tracking-log';

export const STREAM = 'pushwoosh_tracking';
/** The tracking log covers messages of the last 14 days; getMessageLog 30 days. */
const TRACKING_DAYS = 14;
const MESSAGE_LOG_DAYS = 30;
const PAGE_LIMIT = 10_000;
const MAX_DECOMPRESSED_BYTES = 20 * 1024 ** 3;

/**
 * Each mode's primary key: the fields that identify an event and are never null in its rows
 * (getMessageLog has no tracking code; it names the message instead).
 */
export const PRIMARY_KEYS = {
  tracking_log: ['application_code', 'tracking_code', 'hwid', 'status', 'timestamp'],
  message_log: ['application_code', 'message_code', 'hwid', 'status', 'timestamp'],
};

/**
 * One day, for the applications it completes: one application's getMessageLog pages (its own
 * partition), or the tracking log's one file of the day, which serves every application.
 */
interface DayUnit extends UnitOfWork {
  day: Day;
  applications: Set<string>;
}

/** getMessageLog: each application's days, in its own partition. */
function daysPerApplication(first: Map<string, Day>, last: Day): DayUnit[] {
  return [...first].flatMap(([app, from]) =>
    daysBetween(from, last).map((day) => ({
      day,
      applications: new Set([app]),
      partition: app,
      partitionLabel: `application ${app}`,
    })),
  );
}

/** The tracking log: one download per day serves every application whose window holds it. */
function sharedDays(first: Map<string, Day>, last: Day): DayUnit[] {
  const earliest = [...first.values()].sort()[0];
  if (earliest === undefined) return [];
  return daysBetween(earliest, last).map((day) => ({
    day,
    applications: new Set([...first].filter(([, from]) => from <= day).map(([app]) => app)),
  }));
}

/**
 * Pushwoosh's per-device push log, day by day, from getMessageLog (the supported API) or the
 * legacy getTrackingLog + getResults ZIP export. Each application keeps its own cursor, so one
 * added later starts from start_date; a checkpoint follows each complete day.
 */
export function trackingStream(
  config: SharedConfig,
  pushwoosh: PushwooshConfig,
  clock: Clock,
  opts: { runAhead: number },
) {
  const mode = pushwoosh.log_api;
  const tracking = mode === 'tracking_log';
  const keep = tracking ? TRACKING_DAYS : MESSAGE_LOG_DAYS;
  const windows = new DayWindows(
    { startDate: config.start_date, lookbackDays: config.lookback_days },
    {
      // The tracking log takes today-13..today; getMessageLog's dates reach 30 days back.
      oldest: (today) => addDays(today, -(keep - 1)),
      retention: `${keep} days Pushwoosh's ${tracking ? 'tracking log' : 'message log'} covers`,
    },
  );
  const configured = new Set(pushwoosh.application_codes);
  let api: PushwooshApi | undefined;
  let badPayloads = 0;
  const dropped = new DroppedRows();
  let orphaned: unknown;
  const mapping = trackingLogMapping(() => badPayloads++);

  /** Each application's first day to read, in config order; none when it is up to date. */
  function starts(ctx: SyncContext, today: Day): Map<string, Day> {
    const how = `from Pushwoosh's ${tracking ? 'getTrackingLog' : 'getMessageLog'}`;
    const out = new Map<string, Day>();
    for (const app of pushwoosh.application_codes) {
      const label = `${STREAM} application ${app}`;
      const window = windows.plan(label, ctx.cursors.cursor(app), today, ctx, how);
      if (window) out.set(app, window.from);
    }
    return out;
  }

  async function* readTrackingLog(unit: DayUnit, file: SpooledFile, ctx: SyncContext) {
    const source = `Pushwoosh tracking log of ${unit.day}`;
    const quality = ctx.quality.file(source);
    const toJson = mapping.serializer({}, MESSAGE_LOG_ONLY, quality);
    const at = mapping.index('application_code');
    const rows = fileRows(file, {
      columns: mapping.columns,
      delimiter: ';',
      // Pushwoosh's header line starts with `//`.
      headerPrefix: '//',
      source,
      maxBytes: MAX_DECOMPRESSED_BYTES,
      onUnknownColumn: ctx.unknownColumn,
    });
    // A configured application this unit does not serve read the day in an earlier sync.
    const keepRow = (row: Raw[]) => {
      const app = row[at];
      if (app !== undefined && unit.applications.has(app)) return true;
      if (app === undefined || !configured.has(app)) dropped.add(app);
      return false;
    };
    for await (const batch of rows) {
      const records: string[] = [];
      for (const row of batch) {
        if (keepRow(row)) records.push(toJson(row));
        else quality.skip();
      }
      yield { records };
    }
  }

  async function* readMessageLog({ day, applications }: DayUnit, ctx: SyncContext) {
    const [app] = applications;
    const from = `${day} 00:00:00`;
    const to = `${addDays(day, 1)} 00:00:00`;
    const what = `Pushwoosh getMessageLog of ${app} for ${day}`;
    const guard = new PageGuard(what);
    const quality = ctx.quality.file(what);
    let token: string | undefined;
    do {
      const page = await api!.messageLogPage(app, from, to, PAGE_LIMIT, token);
      const records: string[] = [];
      for (const row of page.rows) {
        const owner = rowApplication(row, app);
        // Another configured application's row comes with its own query.
        if (owner !== app) {
          quality.skip();
          if (!configured.has(owner)) dropped.add(owner);
          continue;
        }
        const { record, nulled, problems } = messageLogRecord(row, owner);
        quality.rows++;
        if (nulled.length) quality.failedRow(nulled, problems);
        records.push(JSON.stringify(record) + metaOf(nulled));
      }
      yield { records };
      token = guard.next(page.next, page.rows.length) ? page.next : undefined;
    } while (token);
  }

  return new PartitionedStream<DayUnit, SpooledFile | undefined>({
    name: STREAM,
    primaryKey: PRIMARY_KEYS[mode].map((f) => [f]),
    cursorField: 'timestamp',
    state: {
      field: 'date',
      kind: DAY_CURSOR,
      partitions: { group: STATE_GROUP, label: 'application' },
    },
    ahead: opts.runAhead,
    // getMessageLog is queried per application: one that fails leaves the others syncing.
    isolatePartitions: !tracking,

    upgradeState(raw) {
      const upgraded = upgradePushwooshLegacyState(raw, pushwoosh.application_code);
      orphaned = upgraded.orphaned;
      return upgraded.state;
    },

    async plan(ctx) {
      api = new PushwooshApi(pushwoosh, ctx.logger, clock);
      if (orphaned !== undefined) {
        ctx.logger.warn(
          `${STREAM}: the saved state is from 0.1.0 (date ${JSON.stringify(orphaned)}) and names no application, and pushwoosh.application_code is not set; every application is read from the start (re-read rows are deduplicated by the primary key).`,
        );
      }
      const today = todayUtc(new Date(clock.now()));
      const yesterday = addDays(today, -1);
      const from = starts(ctx, today);
      return tracking ? sharedDays(from, yesterday) : daysPerApplication(from, yesterday);
    },

    // getMessageLog is paged JSON, read in `read`; the tracking log is an export per day.
    async fetch({ day }, ctx) {
      if (!tracking) return undefined;
      const engine = ExportEngine.fromConfig(
        config,
        {
          http: new HttpClient(ctx.logger, {
            clock,
            ...apiUrlOptions(pushwoosh.api_url, 'pushwoosh.api_url'),
          }),
          logger: ctx.logger,
          clock,
        },
        // getResults is polled; a public client waits 30 s between calls.
        { pollInitialMs: 5000, pollIntervalMs: 10_000 },
      );
      return engine.run(api!.trackingLog(day));
    },

    dispose: async (file) => file?.dispose(),

    async *read(unit, file, ctx) {
      yield* file ? readTrackingLog(unit, file, ctx) : readMessageLog(unit, ctx);
      for (const app of unit.applications) yield { advance: unit.day, partition: app };
    },

    finish(ctx) {
      dropped.log(STREAM, ctx.logger);
      if (badPayloads) {
        ctx.logger.warn(
          `${STREAM}: ${badPayloads} payload(s) were not valid JSON; they are kept as text in payload_raw (payload is null).`,
        );
      }
    },
  });
}
