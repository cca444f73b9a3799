import { advance, dayWindow, parseDayState } from '../../airbyte/day-cursor';
import { systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { ReadContext, Stream, StreamItem } from '../../airbyte/stream';
import type { Config, PushwooshConfig } from '../../config';
import { type CsvColumn, csvRows, openDecompressed, parseTimestamp } from '../../decode';
import { ExportEngine } from '../../exports/engine';
import { HttpClient } from '../../http/client';
import { readJsonResource } from '../../resources';
import { addDays, type Day, daysBetween, todayUtc } from '../../util/time';
import { type MessageLogRow, PushwooshApi } from './api';

export const STREAM = 'pushwoosh_tracking';
/** The tracking log covers messages of the last 14 days; getMessageLog 30 days. */
const TRACKING_DAYS = 14;
const MESSAGE_LOG_DAYS = 30;
const PAGE_LIMIT = 10_000;
const MAX_DECOMPRESSED_BYTES = 20 * 1024 ** 3;

const COLUMNS: CsvColumn[] = [
  { field: 'timestamp', header: 'timestamp', required: true },
  { field: 'tracking_code', header: 'tracking_code' },
  { field: 'target_id', header: 'target_id' },
  { field: 'hwid', header: 'hwid' },
  { field: 'status', header: 'status', required: true },
  { field: 'description', header: 'description' },
  { field: 'app_code', header: 'appCode' },
  { field: 'payload', header: 'payload' },
];

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

/**
 * Pushwoosh's per-device push log, day by day, from getMessageLog (the supported API) or the
 * legacy getTrackingLog + getResults ZIP export. A checkpoint follows each complete day.
 */
export class PushwooshTrackingStream implements Stream {
  readonly name = STREAM;
  readonly primaryKey = [
    ['application_code'],
    ['tracking_code'],
    ['hwid'],
    ['status'],
    ['timestamp'],
  ];
  readonly cursorField = ['timestamp'];

  constructor(
    private readonly config: Config,
    private readonly pushwoosh: PushwooshConfig,
  ) {}

  schema(): JsonObject {
    return readJsonResource<JsonObject>('schemas', `${STREAM}.json`);
  }

  parseState(raw: unknown): JsonObject {
    return parseDayState(raw, STREAM);
  }

  async *read(ctx: ReadContext): AsyncGenerator<StreamItem> {
    const mode = this.pushwoosh.log_api;
    const keep = mode === 'tracking_log' ? TRACKING_DAYS : MESSAGE_LOG_DAYS;
    const cursor = ctx.state?.date as Day | undefined;
    const today = todayUtc();
    const window = dayWindow(
      {
        stream: STREAM,
        startDate: this.config.start_date,
        cursor,
        lookbackDays: this.config.lookback_days,
        // The tracking log takes today-13..today; getMessageLog's dates reach 30 days back.
        oldestDay: addDays(today, -(keep - 1)),
        retention: `${keep} days Pushwoosh's ${mode === 'tracking_log' ? 'tracking log' : 'message log'} covers`,
        lastDay: addDays(today, -1),
      },
      ctx.logger,
    );
    if (window.from > window.to) {
      ctx.logger.info(
        `${STREAM}: nothing to read (${cursor ? `cursor ${cursor}` : `start ${window.from}`} is after ${window.to}).`,
      );
      return;
    }
    ctx.logger.info(
      `${STREAM}: reading ${window.from}..${window.to} from Pushwoosh's ${mode === 'tracking_log' ? 'getTrackingLog' : 'getMessageLog'}.`,
    );
    const api = new PushwooshApi(this.pushwoosh, ctx.logger);
    const bad = { payloads: 0 };
    for (const day of daysBetween(window.from, window.to)) {
      if (mode === 'tracking_log') yield* this.trackingLogDay(api, day, ctx.logger, bad);
      else yield* this.messageLogDay(api, day);
      yield { kind: 'checkpoint', state: { date: advance(cursor, day) } };
    }
    if (bad.payloads) {
      ctx.logger.warn(
        `${STREAM}: ${bad.payloads} payload(s) were not valid JSON; they are kept as text in payload_raw (payload is null).`,
      );
    }
  }

  private async *messageLogDay(api: PushwooshApi, day: Day): AsyncGenerator<StreamItem> {
    const from = `${day} 00:00:00`;
    const to = `${addDays(day, 1)} 00:00:00`;
    let token: string | undefined;
    do {
      const page = await api.messageLogPage(from, to, PAGE_LIMIT, token);
      for (const row of page.rows) yield { kind: 'record', data: this.messageLogRecord(row) };
      token = page.next;
    } while (token);
  }

  private messageLogRecord(row: MessageLogRow): JsonObject {
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
      application_code: this.pushwoosh.application_code,
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

  private async *trackingLogDay(
    api: PushwooshApi,
    day: Day,
    logger: Logger,
    bad: { payloads: number },
  ): AsyncGenerator<StreamItem> {
    const engine = new ExportEngine(new HttpClient(logger), logger, {
      // getResults is polled; a public client waits 30 s between calls.
      pollInitialMs: 5000,
      pollIntervalMs: 10_000,
      pollMaxMs: this.config.export_poll_max_interval_seconds * 1000,
      timeoutMs: this.config.export_timeout_minutes * 60_000,
    });
    const repo = api.trackingLog(day);
    // The export engine polls getResults through this repository, with the API client.
    const file = await engine.run(repo);
    try {
      const bytes = await openDecompressed(file.path, {
        maxBytes: MAX_DECOMPRESSED_BYTES,
        source: repo.describe,
      });
      const rows = csvRows(bytes, {
        columns: COLUMNS,
        delimiter: ';',
        headerPrefix: '//',
        source: repo.describe,
        onUnknownColumn: (h) =>
          logger.warn(
            `${STREAM}: the tracking log has a column ${JSON.stringify(h)} that this connector does not know; it is not synced.`,
          ),
      });
      for await (const batch of rows) {
        for (const r of batch) {
          const p = parsePayload(r[7]);
          if (p.bad) bad.payloads++;
          const ts = parseTimestamp(r[0] as string, 'timestamp');
          if (ts === null) throw systemError(`${repo.describe}: a row has no timestamp.`);
          yield {
            kind: 'record',
            data: {
              application_code: this.pushwoosh.application_code,
              timestamp: ts,
              tracking_code: orNull(r[1]),
              target_id: orNull(r[2]),
              hwid: orNull(r[3]),
              status: r[4] as string,
              description: orNull(r[5]),
              app_code: orNull(r[6]),
              payload: p.payload,
              payload_raw: p.payload_raw,
              ...MESSAGE_LOG_ONLY,
            },
          };
        }
      }
    } finally {
      await file.dispose();
    }
  }
}
