import type { Readable } from 'node:stream';
import { systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { ExportRepository, JobStatus } from '../../exports/job';
import { apiUrlOptions, HttpClient, snippet } from '../../http/client';
import { type ErrorRule, errorFor } from '../../http/error-table';
import { PageGuard } from '../../http/paging';
import { RateLimiter } from '../../http/rate-limiter';
import type { Clock } from '../../util/clock';
import { field, httpLink, UnknownAnswers } from '../../http/unknown-answers';

/** The fields of a OneSignal message (View messages) that the connector uses. */
export interface OneSignalMessage {
  id: string;
  send_after: number;
  queued_at?: number;
  completed_at?: number | null;
  remaining?: number | null;
  successful?: number;
  failed?: number;
  errored?: number;
  canceled?: boolean;
  isEmail?: boolean;
  isSms?: boolean;
}

/** One app, as configured: its position names it in messages without showing its id. */
export interface OneSignalApp {
  appId: string;
  apiKey: string;
  index: number;
}

const PAGE = 50;
/** OneSignal's documented limit on view endpoints is 1 request a second per app; 10% margin for jitter. */
const VIEW_INTERVAL_MS = 1100;

function errorsOf(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors)) return errors.map(String).join('; ');
  return snippet(body, 200);
}

/** OneSignal's answers that are not a success, for every call of an app. */
function errorTable(i: number): ErrorRule[] {
  return [
    {
      status: [401, 403],
      failure: 'config_error',
      message: (a) =>
        `OneSignal rejected onesignal.apps[${i}].api_key for onesignal.apps[${i}].app_id (HTTP ${a.status}: ${a.reason}). Use the app's App API key from Settings > Keys & IDs.`,
    },
    {
      status: 400,
      when: (a) => /app_id/i.test(a.reason),
      failure: 'config_error',
      message: (a) =>
        `OneSignal does not know onesignal.apps[${i}].app_id (HTTP 400: ${a.reason}).`,
    },
  ];
}

/** The REST calls of one OneSignal app: its key goes only to the API origin. */
export class OneSignalAppClient {
  readonly http: HttpClient;
  private readonly limiter: RateLimiter;
  private readonly errors: ErrorRule[];
  private readonly answers: UnknownAnswers;

  constructor(
    readonly app: OneSignalApp,
    private readonly apiUrl: string,
    logger: Logger,
    readonly clock: Clock,
  ) {
    this.limiter = new RateLimiter(VIEW_INTERVAL_MS, clock);
    this.errors = errorTable(app.index);
    this.http = new HttpClient(logger, {
      clock,
      ...apiUrlOptions(apiUrl, 'onesignal.api_url'),
      credential: {
        origin: new URL(apiUrl).origin,
        headers: { Authorization: `Key ${app.apiKey}` },
      },
    });
    this.answers = UnknownAnswers.of(logger).protect(app.apiKey, app.appId);
  }

  get label(): string {
    return `OneSignal app onesignal.apps[${this.app.index}]`;
  }

  private rejected(status: number, body: unknown): Error {
    return errorFor(
      this.errors,
      { status, body, reason: errorsOf(body) },
      (a) => `${this.label}: OneSignal answered HTTP ${a.status}: ${a.reason}`,
    );
  }

  /** One page of messages sent strictly after `timeOffset` (ISO time or a next_time_offset token). */
  async messagesPage(
    timeOffset: string,
    limit = PAGE,
  ): Promise<{ messages: OneSignalMessage[]; next?: string }> {
    await this.limiter.wait();
    const res = await this.http.request<{ notifications?: unknown; next_time_offset?: unknown }>({
      method: 'GET',
      url: `${this.apiUrl}/notifications`,
      what: `${this.label} messages`,
      params: { app_id: this.app.appId, limit, time_offset: timeOffset },
    });
    if (res.status !== 200) throw this.rejected(res.status, res.data);
    const list = res.data?.notifications;
    if (!Array.isArray(list)) {
      throw systemError(
        `${this.label}: the messages answer has no notifications list: ${snippet(res.data)}`,
      );
    }
    for (const m of list as OneSignalMessage[]) {
      if (typeof m?.id !== 'string' || typeof m.send_after !== 'number') {
        throw systemError(`${this.label}: a message without id or send_after: ${snippet(m)}`);
      }
    }
    return { messages: list as OneSignalMessage[], next: this.nextOffsetOf(res.data) };
  }

  /** One doc types next_time_offset as an integer, the SDK as a string: both are passed back. */
  private nextOffsetOf(body: unknown): string | undefined {
    const next = field(body, 'next_time_offset');
    if (typeof next === 'string' || typeof next === 'number') return String(next);
    if (next !== undefined && next !== null)
      this.answers.note('OneSignal messages', body, 'reading it as the last page');
    return undefined;
  }

  /**
   * Every message sent after `since`, oldest first, following next_time_offset. A short page is
   * the last: asking on for the empty page OneSignal's docs mention would cost a rate-limited
   * second per app, and a message sent meanwhile is found by the next sync anyway.
   */
  async messagesSince(since: Date): Promise<OneSignalMessage[]> {
    const out: OneSignalMessage[] = [];
    const guard = new PageGuard(`${this.label} messages`);
    let offset = since.toISOString();
    for (;;) {
      const page = await this.messagesPage(offset);
      out.push(...page.messages);
      if (page.messages.length < PAGE || !guard.next(page.next, page.messages.length)) return out;
      offset = page.next!;
    }
  }

  /** check: the cheapest call that proves both the app id and its key. */
  async probe(): Promise<void> {
    await this.messagesPage(new Date(this.clock.now()).toISOString(), 1);
  }

  /** `onReady` hears how long the file took to generate, as soon as it is served. */
  exportRepository(
    message: OneSignalMessage,
    onReady?: (generationMs: number) => void,
  ): OneSignalExport {
    return new OneSignalExport(this, message, onReady);
  }

  async requestExport(messageId: string): Promise<string> {
    const res = await this.http.request<unknown>({
      method: 'POST',
      url: `${this.apiUrl}/notifications/${encodeURIComponent(messageId)}/export_events`,
      what: `${this.label} export of message ${messageId}`,
      params: { app_id: this.app.appId },
    });
    if (res.status !== 200) throw this.rejected(res.status, res.data);
    const url = httpLink(field(res.data, 'csv_file_url', 'csvFileUrl'), this.apiUrl);
    if (!url) {
      throw systemError(`${this.label}: export_events gave no csv_file_url: ${snippet(res.data)}`);
    }
    return url;
  }
}

/**
 * OneSignal's export: the file URL answers S3's 404 NoSuchKey until the file is generated, or
 * 403 AccessDenied where the bucket cannot be listed, so both mean "not ready" until the file was
 * served once; after that (or on 410) the file is gone and the export is requested again. Polling
 * GETs the file itself (without the key); the 200 answer's body is handed to the engine.
 */
export class OneSignalExport implements ExportRepository<{ url: string }> {
  readonly describe: string;
  /** How long OneSignal took to generate the file, from the request to its first 200. */
  generationMs = 0;
  private sinceRequest: () => number = () => 0;
  /** File URLs that were served once: missing after that means gone, not "not yet". */
  private readonly served = new Set<string>();

  constructor(
    private readonly client: OneSignalAppClient,
    private readonly message: OneSignalMessage,
    private readonly onReady?: (generationMs: number) => void,
  ) {
    this.describe = `${client.label} export of message ${message.id}`;
  }

  async start(): Promise<{ url: string }> {
    const url = await this.client.requestExport(this.message.id);
    this.sinceRequest = this.client.clock.timer();
    return { url };
  }

  async poll(job: { url: string }): Promise<JobStatus> {
    const res = await this.client.http.request<Readable>({
      method: 'GET',
      url: job.url,
      what: `${this.describe} file`,
      responseType: 'stream',
      credentials: false,
    });
    if (res.status === 200 && !this.generationMs) {
      this.generationMs = this.sinceRequest();
      this.onReady?.(this.generationMs);
    }
    if (res.status === 200) {
      this.served.add(job.url);
      return {
        state: 'completed',
        download: { url: job.url, body: { stream: res.data, headers: res.headers } },
      };
    }
    res.data.resume(); // the S3 error body is of no use
    const missing = res.status === 404 || res.status === 403;
    if (missing && !this.served.has(job.url))
      return { state: 'running', detail: 'the file is not generated yet' };
    if (missing || res.status === 410)
      return { state: 'expired', reason: `the file URL answered HTTP ${res.status}` };
    throw systemError(`${this.describe}: the file URL answered HTTP ${res.status}.`);
  }
}
