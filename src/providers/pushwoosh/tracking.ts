import { systemError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import type { Config, PushwooshConfig } from '../../config';
import { fileRows } from '../../decode/chain';
import { parseTimestamp } from '../../decode';
import { as, field, type FieldMap, RecordMapping } from '../../decode/records';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { HttpClient } from '../../http/client';
import { ExportStream, type UnitOfWork } from '../../sync/export-stream';
import { DAY_CURSOR } from '../../sync/state';
import { DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, type Day, daysBetween, dayOf } from '../../util/time';
import { type MessageLogRow, PushwooshApi } from './api';

export const STREAM = 'pushwoosh_tracking';
/** The tracking log covers messages of the last 14 days; getMessageLog 30 days. */
const TRACKING_DAYS = 14;
const MESSAGE_LOG_DAYS = 30;
const PAGE_LIMIT = 10_000;
const MAX_DECOMPRESSED_BYTES = 20 * 1024 ** 3;

const orNull = (v: unknown): string | null =>
  v === undefined || v === null || v === '' ? null : String(v);

/** The stream's fields that only getMessageLog has are null for tracking-log rows. */
const MESSAGE_LOG_ONLY = {
  message_id: null,
  message_code: null,
  campaign_code: null,
  user_id: null,
  platform: null,
};

/**
 * Parses a payload. One that is not JSON is kept, not dropped: `payload` is null and
 * `payload_raw` holds the text as Pushwoosh wrote it.
 */
export function parsePayload(raw: string | undefined): {
  payload: unknown;
  payload_raw: string | null;
  bad: boolean;
} {
  if (raw === undefined || raw === '') return { payload: null, payload_raw: null, bad: false };
  try {
    return { payload: JSON.parse(raw), payload_raw: null, bad: false };
  } catch {
    return { payload: null, payload_raw: raw, bad: true };
  }
}

/** The tracking log's `;` CSV; `onBadPayload` counts payloads kept as text. */
export function trackingLogMapping(onBadPayload: () => void = () => {}): RecordMapping {
  const payload: FieldMap = {
    header: 'payload',
    fields: ['payload', 'payload_raw'],
    fragment(raw) {
      const p = parsePayload(raw);
      if (p.bad) onBadPayload();
      return `"payload":${JSON.stringify(p.payload)},"payload_raw":${JSON.stringify(p.payload_raw)}`;
    },
  };
  return new RecordMapping([
    field('timestamp', 'timestamp', requiredTimestamp, { required: true }),
    field('tracking_code', 'tracking_code', as.textOrNull),
    field('target_id', 'target_id', as.textOrNull),
    field('hwid', 'hwid', as.textOrNull),
    field('status', 'status', as.text, { required: true }),
    field('description', 'description', as.textOrNull),
    field('app_code', 'appCode', as.textOrNull),
    payload,
  ]);
}

/** A timestamp is part of the primary key: a row without one is an error, not a null. */
function requiredTimestamp(raw: string | undefined, column: string): string {
  const t = parseTimestamp(raw ?? '', column);
  if (t === null)
    throw systemError(`Pushwoosh tracking log: a row has no timestamp (column ${column}).`);
  return `"${t}"`;
}

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
      const window = windows.of(STREAM, cursor, dayOf(new Date(clock.now())), ctx.logger);
      if (window.from > window.to) {
        ctx.logger.info(
          `${STREAM}: nothing to read (${cursor ? `cursor ${cursor}` : `start ${window.from}`} is after ${window.to}).`,
        );
        return [];
      }
      ctx.logger.info(
        `${STREAM}: reading ${window.from}..${window.to} from Pushwoosh's ${mode === 'tracking_log' ? 'getTrackingLog' : 'getMessageLog'}.`,
      );
      return daysBetween(window.from, window.to).map((day) => ({ day }));
    },

    // getMessageLog is paged JSON, read in `read`; the tracking log is an export per day.
    async fetch({ day }, ctx) {
      if (mode !== 'tracking_log') return undefined;
      const engine = ExportEngine.fromConfig(
        config,
        { http: new HttpClient(ctx.logger, { clock }), logger: ctx.logger, clock },
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
          source: `Pushwoosh tracking log of ${day}`,
          maxBytes: MAX_DECOMPRESSED_BYTES,
          onUnknownColumn: ctx.unknownColumn,
        });
        for await (const batch of rows) yield { records: batch.map(toJson) };
      } else {
        const from = `${day} 00:00:00`;
        const to = `${addDays(day, 1)} 00:00:00`;
        let token: string | undefined;
        do {
          const page = await api!.messageLogPage(from, to, PAGE_LIMIT, token);
          yield { records: page.rows.map((r) => JSON.stringify(messageLogRecord(r, lead))) };
          token = page.next;
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

function messageLogRecord(row: MessageLogRow, lead: JsonObject): JsonObject {
  const ts = parseTimestamp(String(row.timestamp ?? ''), 'timestamp');
  if (ts === null)
    throw systemError(
      `Pushwoosh getMessageLog gave a row without a timestamp: ${JSON.stringify(row).slice(0, 200)}`,
    );
  const action = orNull(row.action);
  if (action === null)
    throw systemError(
      `Pushwoosh getMessageLog gave a row without an action: ${JSON.stringify(row).slice(0, 200)}`,
    );
  const id = row.message_id;
  return {
    ...lead,
    timestamp: ts,
    tracking_code: null,
    target_id: null,
    hwid: orNull(row.hwid),
    status: action,
    description: null,
    app_code: orNull(row.application_code),
    payload: null,
    payload_raw: null,
    message_id:
      typeof id === 'number' && Number.isInteger(id)
        ? id
        : typeof id === 'string' && /^\d+$/.test(id)
          ? Number(id)
          : null,
    message_code: orNull(row.message_code),
    campaign_code: orNull(row.campaign_code),
    user_id: orNull(row.user_id),
    platform: orNull(row.platform),
  };
}
