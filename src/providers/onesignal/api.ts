import { systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import { ExportOutcomeUnknown, ExportSlotBusy } from '../../exports/job';
import { microsIso } from '../../sync/state';
import { apiUrlOptions, HttpClient, MaybeReceived, retryAfterMs, snippet } from '../../http/client';
import { type ErrorRule, errorFor } from '../../http/error-table';
import { errorsOf, errorTable, ONE_EXPORT } from './answers';
import { PageGuard } from '../../http/paging';
import { RateLimiter } from '../../http/rate-limiter';
import type { Clock } from '../../util/clock';
import { answerField, httpLink, UnknownAnswers } from '../../http/unknown-answers';

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
  /** Everything else OneSignal lists (headings, contents, targeting, counts, platform flags). */
  [field: string]: unknown;
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
  ): Promise<{ messages: OneSignalMessage[]; next?: string; at?: Position }> {
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
    const next = this.nextOffsetOf(res.data);
    return { messages: list as OneSignalMessage[], next, at: this.positionOf(next) };
  }

  /**
   * The precise send time a next_time_offset token names (base64 of `<ISO time>#<message id>`,
   * as OneSignal documents it): OneSignal orders messages on it, below the whole seconds of
   * send_after. The integer variant names no message; an unknown shape is logged once.
   */
  private positionOf(next: string | undefined): Position | undefined {
    if (next === undefined || /^\d+$/.test(next)) return undefined;
    const text = /^[A-Za-z0-9+/_-]+={0,2}$/.test(next)
      ? Buffer.from(next, 'base64').toString('utf8')
      : '';
    const m = /^([^#]+)#([0-9A-Za-z-]+)$/.exec(text);
    const time = m ? microsIso(m[1]) : undefined;
    if (!m || !time) {
      this.answers.note(
        'OneSignal messages',
        { next_time_offset: next },
        'reading the cursor from send_after instead',
      );
      return undefined;
    }
    return { id: m[2], time };
  }

  /** One doc types next_time_offset as an integer, the SDK as a string: both are passed back. */
  private nextOffsetOf(body: unknown): string | undefined {
    const next = answerField(body, 'next_time_offset');
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
  async messagesSince(
    since: string,
  ): Promise<{ messages: OneSignalMessage[]; precise: Map<string, string> }> {
    const out: OneSignalMessage[] = [];
    // Message id -> its precise send time, where a page's token names it.
    const precise = new Map<string, string>();
    const guard = new PageGuard(`${this.label} messages`);
    let offset = since;
    for (;;) {
      const page = await this.messagesPage(offset);
      out.push(...page.messages);
      if (page.at && page.messages.some((m) => m.id === page.at!.id))
        precise.set(page.at.id, page.at.time);
      if (page.messages.length < PAGE || !guard.next(page.next, page.messages.length))
        return { messages: out, precise };
      offset = page.next!;
    }
  }

  /** check: the cheapest call that proves both the app id and its key. */
  async probe(): Promise<void> {
    await this.messagesPage(new Date(this.clock.now()).toISOString(), 1);
  }

  async requestExport(messageId: string): Promise<string> {
    let res;
    try {
      res = await this.http.request<unknown>({
        method: 'POST',
        url: `${this.apiUrl}/notifications/${encodeURIComponent(messageId)}/export_events`,
        what: `${this.label} export of message ${messageId}`,
        params: { app_id: this.app.appId },
        // A repeat of a request that reached OneSignal would meet its own export in the slot.
        unsafeToRepeat: true,
        // A refusal for the taken slot is waited out by the engine, whatever status carries it.
        isFinal: (_status, body) => ONE_EXPORT.test(body),
      });
    } catch (err) {
      if (err instanceof MaybeReceived) throw new ExportOutcomeUnknown(err.message);
      throw err;
    }
    if (res.status >= 400 && ONE_EXPORT.test(errorsOf(res.data))) {
      throw new ExportSlotBusy(
        'OneSignal says another export of this account is running',
        retryAfterMs(res.headers['retry-after']),
      );
    }
    // OneSignal may have started the export before failing: not asked again (see the engine).
    if (res.status >= 500) {
      throw new ExportOutcomeUnknown(
        `OneSignal answered the export request with HTTP ${res.status}, without its file URL`,
      );
    }
    if (res.status !== 200) throw this.rejected(res.status, res.data);
    const url = httpLink(answerField(res.data, 'csv_file_url', 'csvFileUrl'), this.apiUrl);
    if (!url) {
      throw systemError(`${this.label}: export_events gave no csv_file_url: ${snippet(res.data)}`);
    }
    return url;
  }
}

/** A precise send position: a message and the time OneSignal orders it on. */
interface Position {
  id: string;
  time: string;
}
