import type { Config, PushwooshConfig } from '../../config';
import { fileRows } from '../../decode/chain';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { apiUrlOptions, HttpClient } from '../../http/client';
import { PageGuard } from '../../http/paging';
import { ExportStream, type UnitOfWork } from '../../sync/export-stream';
import { DAY_CURSOR } from '../../sync/state';
import { DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, type Day, daysBetween, todayUtc } from '../../util/time';
import { PushwooshApi } from './api';
import { messageLogRecord } from './message-log';
import { MESSAGE_LOG_ONLY, trackingLogMapping } from './tracking-log';

export const STREAM = 'pushwoosh_tracking';
/** The tracking log covers messages of the last 14 days; getMessageLog 30 days. */
const TRACKING_DAYS = 14;
const MESSAGE_LOG_DAYS = 30;
const PAGE_LIMIT = 10_000;
const MAX_DECOMPRESSED_BYTES = 20 * 1024 ** 3;

interface DayUnit extends UnitOfWork {
  day: Day;
}

/**
 * Pushwoosh's per-device push log, day by day, from getMessageLog (the supported API) or the
 * legacy getTrackingLog + getResults ZIP export. A checkpoint follows each complete day.
 */
export function trackingStream(
  config: Config,
  pushwoosh: PushwooshConfig,
  clock: Clock,
  opts: { runAhead: number },
) {
  const mode = pushwoosh.log_api;
  const keep = mode === 'tracking_log' ? TRACKING_DAYS : MESSAGE_LOG_DAYS;
  const windows = new DayWindows(
    { startDate: config.start_date, lookbackDays: config.lookback_days },
    {
      // The tracking log takes today-13..today; getMessageLog's dates reach 30 days back.
      oldest: (today) => addDays(today, -(keep - 1)),
      retention: `${keep} days Pushwoosh's ${mode === 'tracking_log' ? 'tracking log' : 'message log'} covers`,
    },
  );
  let api: PushwooshApi | undefined;
  let badPayloads = 0;
  const mapping = trackingLogMapping(() => badPayloads++);
  const lead = { application_code: pushwoosh.application_code };

  return new ExportStream<DayUnit, SpooledFile | undefined>({
    name: STREAM,
    primaryKey: [['application_code'], ['tracking_code'], ['hwid'], ['status'], ['timestamp']],
    cursorField: 'timestamp',
    state: { field: 'date', kind: DAY_CURSOR },
    ahead: opts.runAhead,
    isolatePartitions: false,

    async plan(ctx) {
      api = new PushwooshApi(pushwoosh, ctx.logger, clock);
      const cursor = ctx.cursors.cursor();
      const how = `from Pushwoosh's ${mode === 'tracking_log' ? 'getTrackingLog' : 'getMessageLog'}`;
      const window = windows.plan(STREAM, cursor, todayUtc(new Date(clock.now())), ctx.logger, how);
      if (!window) return [];
      return daysBetween(window.from, window.to).map((day) => ({ day }));
    },

    // getMessageLog is paged JSON, read in `read`; the tracking log is an export per day.
    async fetch({ day }, ctx) {
      if (mode !== 'tracking_log') return undefined;
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

    async *read({ day }, file, ctx) {
      if (file) {
        const toJson = mapping.serializer(lead, MESSAGE_LOG_ONLY);
        const rows = fileRows(file, {
          columns: mapping.columns,
          delimiter: ';',
          // Pushwoosh's header line starts with `//`.
          headerPrefix: '//',
          source: `Pushwoosh tracking log of ${day}`,
          maxBytes: MAX_DECOMPRESSED_BYTES,
          onUnknownColumn: ctx.unknownColumn,
        });
        for await (const batch of rows) yield { records: batch.map(toJson) };
      } else {
        const from = `${day} 00:00:00`;
        const to = `${addDays(day, 1)} 00:00:00`;
        const guard = new PageGuard(`Pushwoosh getMessageLog for ${day}`);
        let token: string | undefined;
        do {
          const page = await api!.messageLogPage(from, to, PAGE_LIMIT, token);
          yield { records: page.rows.map((r) => JSON.stringify(messageLogRecord(r, lead))) };
          token = guard.next(page.next, page.rows.length) ? page.next : undefined;
        } while (token);
      }
      yield { advance: day };
    },

    finish(ctx) {
      if (badPayloads) {
        ctx.logger.warn(
          `${STREAM}: ${badPayloads} payload(s) were not valid JSON; they are kept as text in payload_raw (payload is null).`,
        );
      }
    },
  });
}
