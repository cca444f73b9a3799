import { createHash } from 'node:crypto';
import { parsePartitionedState } from '../../airbyte/day-cursor';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { ReadContext, Stream, StreamItem } from '../../airbyte/stream';
import type { Config, OneSignalConfig } from '../../config';
import { type CsvColumn, csvRows, openDecompressed, parseTimestamp } from '../../decode';
import { ExportEngine, type PollSchedule, type SpooledFile } from '../../exports/engine';
import { JobTracker } from '../../exports/tracker';
import { HttpClient } from '../../http/client';
import { readJsonResource } from '../../resources';
import { timeScale } from '../../util/time';
import { type OneSignalMessage, OneSignalAppClient } from './api';

export const STREAM = 'onesignal_message_events';
/** OneSignal keeps audience activity about 30 days after the send. */
const RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
/** OneSignal generates export files at about 2,000 records a second (documented). */
const RECORDS_PER_SECOND = 2000;
/** Overlapping parse and generation can be switched off to measure its effect (bench/). */
const PREFETCH = process.env.SOURCE_PDM_EXPORT_PREFETCH !== '0';
const MAX_DECOMPRESSED_BYTES = 100 * 1024 ** 3;

const COLUMNS: CsvColumn[] = [
  { field: 'subscription_id', header: 'subscription_id', required: true },
  { field: 'external_user_id', header: 'external_user_id' },
  { field: 'onesignal_id', header: 'onesignal_id' },
  { field: 'device_type', header: 'device_type' },
  { field: 'sent', header: 'sent' },
  { field: 'delivered', header: 'delivered' },
  { field: 'clicked', header: 'clicked' },
  { field: 'failed', header: 'failed' },
  { field: 'unsubscribed', header: 'unsubscribed' },
  { field: 'failure_message', header: 'failure_message' },
];

// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** A JSON string literal; most values need no escaping, and skip JSON.stringify. */
function str(v: string): string {
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

/** `-` and empty mean "did not happen" in OneSignal's files. */
function strOrNull(v: string | undefined): string {
  return v === undefined || v === '' || v === '-' ? 'null' : str(v);
}

function timeJson(v: string | undefined, column: string): string {
  if (v === undefined) return 'null';
  const t = parseTimestamp(v, column);
  return t === null ? 'null' : `"${t}"`;
}

/**
 * The state key of an app: a hash, not the App ID itself, which the spec marks secret (and
 * secrets are redacted from every non-record message, states included).
 */
export function appKey(appId: string): string {
  return `app_${createHash('sha256').update(appId).digest('hex').slice(0, 16)}`;
}

type AppsState = { apps?: Record<string, { message_sent_at: string }> };

/** A message counts as done when OneSignal finished sending it. */
const isDone = (m: OneSignalMessage) =>
  m.completed_at !== null && m.completed_at !== undefined && m.remaining === 0;

/** Rows a message's export will hold, from its own counts. */
const expectedRows = (m: OneSignalMessage) =>
  (m.successful ?? 0) + (m.failed ?? 0) + (m.errored ?? 0) + (m.remaining ?? 0);

/**
 * Per-message audience activity of every configured app: each push message sent in the window is
 * exported (one export at a time for the whole account), and a checkpoint follows each message.
 */
export class OneSignalMessageEventsStream implements Stream {
  readonly name = STREAM;
  readonly primaryKey = [['app_id'], ['message_id'], ['subscription_id']];
  readonly cursorField = ['message_sent_at'];

  /** Generation speed: OneSignal's documented rate until an export shows the real one. */
  private recordsPerSecond = RECORDS_PER_SECOND;
  private rateLearned = false;

  constructor(
    private readonly config: Config,
    private readonly onesignal: OneSignalConfig,
  ) {}

  private learnRate(rows: number, generationMs: number): void {
    const seconds = generationMs / 1000 / timeScale();
    if (rows >= 1000 && seconds > 0.05) {
      this.recordsPerSecond = Math.min(10_000_000, Math.max(100, rows / seconds));
      this.rateLearned = true;
    }
  }

  /**
   * How to poll a file expected in `expectedMs`. Until an export has shown the real speed, check
   * early and back off (small files are ready at once). Once it is known, sleep through most of
   * the expected time. Either way checks end up at most 2% of the expected time apart, so that
   * little time is lost once the file is ready.
   */
  private schedule(expectedMs: number): Partial<PollSchedule> {
    const fine = Math.min(
      this.config.export_poll_max_interval_seconds * 1000,
      Math.max(20, expectedMs * 0.02),
    );
    if (this.rateLearned) {
      return {
        pollInitialMs: Math.max(20, expectedMs * 0.9),
        pollIntervalMs: fine,
        pollGrowth: 1.2,
        pollMaxMs: Math.max(fine, expectedMs * 0.05),
      };
    }
    return {
      pollInitialMs: Math.min(250, fine),
      pollIntervalMs: Math.min(250, fine),
      pollGrowth: 1.25,
      pollMaxMs: fine,
    };
  }

  schema(): JsonObject {
    return readJsonResource<JsonObject>('schemas', `${STREAM}.json`);
  }

  parseState(raw: unknown): JsonObject {
    return parsePartitionedState(raw, STREAM, {
      group: 'apps',
      label: 'app',
      field: 'message_sent_at',
      expected: 'an ISO 8601 time',
      normalize: (v) =>
        typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && Number.isFinite(Date.parse(v))
          ? new Date(Date.parse(v)).toISOString()
          : undefined,
    });
  }

  async *read(ctx: ReadContext): AsyncGenerator<StreamItem> {
    const state: AppsState = structuredClone((ctx.state ?? {}) as AppsState);
    // Exports run one at a time across all apps: OneSignal allows one per account, and the
    // config does not say which apps share an account.
    const tracker = new JobTracker(1);
    const downloads = new HttpClient(ctx.logger);
    const engine = new ExportEngine(downloads, ctx.logger, {
      tracker,
      pollMaxMs: this.config.export_poll_max_interval_seconds * 1000,
      timeoutMs: this.config.export_timeout_minutes * 60_000,
    });
    let estimate = 0;
    for (const [index, app] of this.onesignal.apps.entries()) {
      const client = new OneSignalAppClient(
        { appId: app.app_id, apiKey: app.api_key, index },
        this.onesignal.api_url,
        ctx.logger,
      );
      const key = appKey(app.app_id);
      const cursor = state.apps?.[key]?.message_sent_at;
      const since = this.since(cursor, client.label, ctx.logger);
      const listed = await client.messagesSince(since);
      const messages = listed.filter((m) => {
        if (m.isEmail || m.isSms)
          ctx.logger.info(
            `${client.label}: message ${m.id} is ${m.isEmail ? 'an email' : 'an SMS'}; only push messages are exported.`,
          );
        return !m.isEmail && !m.isSms;
      });
      messages.sort((a, b) => a.send_after - b.send_after || (a.id < b.id ? -1 : 1));
      estimate += messages.reduce((n, m) => n + expectedRows(m), 0);
      ctx.estimate(estimate);
      ctx.logger.info(
        `${client.label}: ${messages.length} push message(s) sent since ${since.toISOString()}.`,
      );
      yield* this.readApp(ctx, engine, client, app.app_id, key, messages, state);
    }
  }

  /** Where an app's listing starts: the cursor minus the lookback, or start_date, within retention. */
  private since(cursor: string | undefined, label: string, logger: Logger): Date {
    const oldest = Date.now() - RETENTION_DAYS * DAY_MS;
    const wanted =
      cursor !== undefined
        ? Date.parse(cursor) - this.config.lookback_days * DAY_MS
        : this.config.start_date !== undefined
          ? Date.parse(`${this.config.start_date}T00:00:00Z`)
          : oldest;
    const start =
      this.config.start_date !== undefined
        ? Math.max(wanted, Date.parse(`${this.config.start_date}T00:00:00Z`))
        : wanted;
    if (start < oldest - 60_000 && (cursor !== undefined || this.config.start_date !== undefined)) {
      logger.warn(
        `${label}: ${cursor !== undefined ? `the saved cursor ${cursor} minus ${this.config.lookback_days} lookback days` : `start_date ${this.config.start_date}`} is older than the ${RETENTION_DAYS} days OneSignal keeps audience activity; reading from ${new Date(oldest).toISOString()}.`,
      );
    }
    return new Date(Math.max(start, oldest));
  }

  private async *readApp(
    ctx: ReadContext,
    engine: ExportEngine,
    client: OneSignalAppClient,
    appId: string,
    key: string,
    messages: OneSignalMessage[],
    state: AppsState,
  ): AsyncGenerator<StreamItem> {
    const saved = state.apps?.[key]?.message_sent_at;
    const start = (i: number): Promise<SpooledFile> => {
      const m = messages[i];
      const rows = expectedRows(m);
      const expectedMs = (rows / this.recordsPerSecond) * 1000;
      ctx.logger.info(
        `${client.label}: exporting message ${m.id} (about ${rows} rows; OneSignal needs about ${Math.ceil(expectedMs / 1000)} s to generate it).`,
      );
      const repo = client.exportRepository(m);
      const p = engine.run(repo, this.schedule(expectedMs));
      p.then(
        () => this.learnRate(rows, repo.readyAt - repo.requestedAt),
        () => undefined,
      ); // observed when awaited; never unhandled
      return p;
    };
    let done = true;
    let pending: Promise<SpooledFile> | undefined = messages.length ? start(0) : undefined;
    try {
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i];
        const file = await (pending ?? start(i));
        // The next export is requested once this file is downloaded (the tracker's one slot is
        // free): OneSignal generates it while this one is parsed.
        pending = PREFETCH && i + 1 < messages.length ? start(i + 1) : undefined;
        try {
          yield* this.records(file, appId, m, client.label, ctx.logger);
        } finally {
          await file.dispose();
        }
        if (!isDone(m)) {
          ctx.logger.info(
            `${client.label}: message ${m.id} is still being delivered; the next sync exports it again.`,
          );
        }
        // The cursor moves only past a prefix of finished messages, and only at the last message of a send time.
        done = done && isDone(m);
        const next = messages[i + 1];
        if (done && (!next || next.send_after !== m.send_after)) {
          const at = new Date(m.send_after * 1000).toISOString();
          state.apps = {
            ...state.apps,
            [key]: { message_sent_at: saved && saved > at ? saved : at },
          };
        }
        yield { kind: 'checkpoint', state: structuredClone(state) as JsonObject };
      }
    } finally {
      // A failure leaves a prefetched export behind: let it finish and delete its file.
      pending?.then(
        (f) => f.dispose(),
        () => undefined,
      );
    }
  }

  private async *records(
    file: SpooledFile,
    appId: string,
    m: OneSignalMessage,
    label: string,
    logger: Logger,
  ): AsyncGenerator<StreamItem> {
    const source = `${label} export of message ${m.id}`;
    const bytes = await openDecompressed(file.path, {
      contentEncoding: file.contentEncoding,
      highWaterMark: 256 * 1024,
      maxBytes: MAX_DECOMPRESSED_BYTES,
      source,
    });
    const batches = csvRows(bytes, {
      columns: COLUMNS,
      source,
      onUnknownColumn: (h) =>
        logger.warn(
          `${STREAM}: the export has a column ${JSON.stringify(h)} that this connector does not know; it is not synced.`,
        ),
    });
    // Records are serialized here, by hand: this runs for every row of multi-million-row exports.
    const prefix =
      `{"app_id":${JSON.stringify(appId)},"message_id":${JSON.stringify(m.id)},` +
      `"message_sent_at":"${new Date(m.send_after * 1000).toISOString()}","subscription_id":`;
    for await (const rows of batches) {
      const json = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        json[i] =
          prefix +
          str(r[0] as string) +
          ',"external_user_id":' +
          strOrNull(r[1]) +
          ',"onesignal_id":' +
          strOrNull(r[2]) +
          ',"device_type":' +
          strOrNull(r[3]) +
          ',"sent_at":' +
          timeJson(r[4], 'sent') +
          ',"delivered_at":' +
          timeJson(r[5], 'delivered') +
          ',"clicked_at":' +
          timeJson(r[6], 'clicked') +
          ',"failed_at":' +
          timeJson(r[7], 'failed') +
          ',"unsubscribed_at":' +
          timeJson(r[8], 'unsubscribed') +
          ',"failure_message":' +
          strOrNull(r[9]) +
          '}';
      }
      yield { kind: 'records', json };
    }
  }
}
