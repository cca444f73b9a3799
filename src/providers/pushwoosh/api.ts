import { configError, ConnectorError, systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { PushwooshConfig } from './config';
import type { ExportRepository, JobStatus } from '../../exports/job';
import { apiUrlOptions, HttpClient, snippet } from '../../http/client';
import { answerField, UnknownAnswers } from '../../http/unknown-answers';
import type { Clock } from '../../util/clock';
import type { Day } from '../../util/time';
import {
  AUTH,
  jsonOrText,
  lookup,
  type MessageLogRow,
  NEXT_TOKENS,
  normalizeMessageLogRow,
  readResults,
  ROW_LISTS,
  statusCodeOf,
  textOf,
} from './answers';

/**
 * getMessageLog's path: Pushwoosh documents the method on its Statistics API v2 page, whose
 * methods live under /api/v2/ (one public client agrees); another client, written from inside
 * Pushwoosh in 2021, used /json/1.3/. The first is tried, the second if it answers 404.
 */
const MESSAGE_LOG_PATHS = ['/api/v2/statistics/getMessageLog', '/json/1.3/getMessageLog'];

/** The Pushwoosh calls: the token goes only to the API origin (in the body and header). */
export class PushwooshApi {
  readonly http: HttpClient;
  private messageLogPath: string | undefined;
  private readonly answers: UnknownAnswers;

  constructor(
    private readonly cfg: PushwooshConfig,
    private readonly logger: Logger,
    clock: Clock,
  ) {
    this.http = new HttpClient(logger, {
      clock,
      ...apiUrlOptions(cfg.api_url, 'pushwoosh.api_url'),
      credential: {
        origin: new URL(cfg.api_url).origin,
        headers: { Authorization: `Token ${cfg.api_token}` },
      },
    });
    this.answers = UnknownAnswers.of(logger).protect(cfg.api_token);
  }

  /** `application`: the one the call named; Pushwoosh answers alike for it and for the token. */
  private authError(detail: string, application: unknown): ConnectorError {
    const app =
      typeof application === 'string' ? ` or does not know the application ${application}` : '';
    return configError(
      `Pushwoosh rejected pushwoosh.api_token${app} (${detail}). Use a server API access token from Settings > API Access, and application codes of that account.`,
    );
  }

  /**
   * Turns any Pushwoosh answer into its payload or the right error. Pushwoosh reports errors in
   * the HTTP status, in `status_code` (200 OK, 210 argument error) and in `{"error": …}` bodies.
   * The checks' order is part of their meaning (a 403 about the plan is no token error, an
   * `error` body is read before the HTTP status), so they stay code rather than a table.
   */
  private unwrap(what: string, status: number, body: unknown, application: unknown): JsonObject {
    const b = (body && typeof body === 'object' ? body : {}) as JsonObject;
    const error = typeof b.error === 'string' ? b.error : undefined;
    const code = statusCodeOf(b);
    const message = textOf(body) || snippet(body, 200);
    if (status === 401 || (status === 403 && !/custom plan/i.test(message)))
      throw this.authError(`HTTP ${status}: ${message}`, application);
    if (status === 403 || /custom plan/i.test(message)) {
      throw configError(
        `Pushwoosh refused ${what}: ${message}. getMessageLog is for Custom plans only; ask Pushwoosh to enable it, or set pushwoosh.log_api to tracking_log.`,
      );
    }
    if (error !== undefined) {
      if (AUTH.test(error)) throw this.authError(error, application);
      throw systemError(`Pushwoosh ${what} failed: ${error} (HTTP ${status})`);
    }
    if (status < 200 || status > 299)
      throw systemError(`Pushwoosh ${what} answered HTTP ${status}: ${message}`);
    if (code === undefined || code === 200) return b;
    if (AUTH.test(message)) throw this.authError(`status_code ${code}: ${message}`, application);
    throw systemError(`Pushwoosh ${what} failed with status_code ${code}: ${message}`);
  }

  /** `asText`: the body is parsed here, and kept as text when it is not JSON. */
  private async call(path: string, what: string, request: JsonObject, asText = false) {
    const res = await this.http.request({
      method: 'POST',
      url: `${this.cfg.api_url}${path}`,
      what: `Pushwoosh ${what}`,
      headers: { 'Content-Type': 'application/json' },
      data: JSON.stringify({ request: { auth: this.cfg.api_token, ...request } }),
      responseType: asText ? 'text' : 'json',
    });
    if (asText) res.data = jsonOrText(res.data as string);
    return {
      status: res.status,
      body: res.data,
      unwrap: () => this.unwrap(what, res.status, res.data, request.application_code),
    };
  }

  /** One page of an application's getMessageLog rows in [from, to), under the stream's names. */
  async messageLogPage(
    application: string,
    from: string,
    to: string,
    limit: number,
    token?: string,
  ): Promise<{ rows: MessageLogRow[]; next?: string }> {
    const request: JsonObject = {
      application_code: application,
      date_from: from,
      date_to: to,
      limit,
    };
    if (token) request.pagination_token = token;
    let answer: JsonObject | undefined;
    for (const path of this.messageLogPath ? [this.messageLogPath] : MESSAGE_LOG_PATHS) {
      const r = await this.call(path, 'getMessageLog', request);
      if (r.status === 404 && !this.messageLogPath && path !== MESSAGE_LOG_PATHS.at(-1)) {
        this.logger.info(`Pushwoosh answered 404 for ${path}; trying ${MESSAGE_LOG_PATHS.at(-1)}.`);
        continue;
      }
      this.messageLogPath = path;
      answer = r.unwrap();
      break;
    }
    const containers = [answerField(answer, 'response'), answer];
    let rows = lookup(containers, ROW_LISTS);
    if (rows === null) {
      this.answers.note('Pushwoosh getMessageLog', answer, 'reading it as a page without rows');
      rows = [];
    }
    if (!Array.isArray(rows))
      throw systemError(
        `Pushwoosh getMessageLog answered without a result list: ${snippet(answer)}`,
      );
    const next = lookup(containers, NEXT_TOKENS);
    return {
      rows: rows.map(normalizeMessageLogRow),
      next:
        typeof next === 'number' || (typeof next === 'string' && next !== '')
          ? String(next)
          : undefined,
    };
  }

  trackingLog(day: Day): ExportRepository<{ requestId: string }> {
    return new TrackingLogExport(this, day);
  }

  async requestTrackingLog(day: Day): Promise<string> {
    const r = (
      await this.call('/json/1.3/getTrackingLog', `getTrackingLog for ${day}`, { date: day })
    ).unwrap();
    const id = lookup([answerField(r, 'response'), r], ['request_id', 'requestId']);
    if ((typeof id !== 'string' && typeof id !== 'number') || id === '')
      throw systemError(`Pushwoosh getTrackingLog gave no request_id: ${snippet(r)}`);
    return String(id);
  }

  async results(requestId: string, day: Day): Promise<JobStatus> {
    const what = `getResults for the ${day} tracking log`;
    // Read leniently: a plain-text "not ready" must not fail the sync as a non-JSON body.
    const r = await this.call('/json/1.3/getResults', what, { request_id: requestId }, true);
    const answer = readResults(r.status, r.body, this.cfg.api_url);
    switch (answer.kind) {
      case 'ready':
        return { state: 'completed', download: { url: answer.url } };
      case 'failed':
        return { state: 'failed', reason: `Pushwoosh reported the job ${answer.state}` };
      case 'auth':
        throw this.authError(answer.detail, undefined);
      case 'final': {
        const { status, message } = answer;
        throw systemError(`Pushwoosh ${what} answered HTTP ${status}: ${message}`);
      }
      case 'rejected':
        throw systemError(
          `Pushwoosh ${what} failed with status_code ${answer.code}: ${answer.message}. Waiting cannot help: the export is not polled further.`,
        );
      case 'pending':
        if (!answer.recognised) this.answers.note('Pushwoosh getResults', r.body);
        return { state: 'running', detail: 'Pushwoosh is still preparing the file' };
    }
  }
}

/** getTrackingLog + getResults: an async export like the others. */
class TrackingLogExport implements ExportRepository<{ requestId: string }> {
  readonly describe: string;

  constructor(
    private readonly api: PushwooshApi,
    private readonly day: Day,
  ) {
    this.describe = `Pushwoosh tracking log of ${day}`;
  }

  async start(): Promise<{ requestId: string }> {
    return { requestId: await this.api.requestTrackingLog(this.day) };
  }

  poll(job: { requestId: string }): Promise<JobStatus> {
    return this.api.results(job.requestId, this.day);
  }
}
