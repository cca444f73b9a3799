import { configError, ConnectorError, systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { PushwooshConfig } from './config';
import type { ExportRepository, JobStatus } from '../../exports/job';
import { apiUrlOptions, HttpClient, snippet } from '../../http/client';
import { answerField, httpLink, UnknownAnswers } from '../../http/unknown-answers';
import type { Clock } from '../../util/clock';
import type { Day } from '../../util/time';

/**
 * getMessageLog's path: Pushwoosh documents the method on its Statistics API v2 page, whose
 * methods live under /api/v2/ (one public client agrees); another client, written from inside
 * Pushwoosh in 2021, used /json/1.3/. The first is tried, the second if it answers 404.
 */
const MESSAGE_LOG_PATHS = ['/api/v2/statistics/getMessageLog', '/json/1.3/getMessageLog'];

/**
 * What Pushwoosh's texts mean (docs/research/pushwoosh.md, "What the connector accepts"). AUTH and
 * FINAL are final; PENDING and FAILED_STATE name a job's state; any other getResults answer
 * without a file link also means not ready yet, until the export timeout.
 */
const AUTH =
  /access denied|unauthori[sz]ed|invalid (?:api )?token|forbid|token restrictions|(?:account|application) not found|token (?:has )?expired|expired token/i;
const FINAL =
  /\brequest\b.*\b(?:not found|does not exist|unknown|expired)\b|\b(?:unknown|invalid|no such) request|request_?id is required|malformed/i;
const PENDING =
  /not ready|pending|process|in[ _-]?progress|queued|not finished|running|wait|preparing|generating/i;
const FAILED_STATE = /^(?:failed|failure|error|cancell?ed)$/i;
/** Where getResults may put the file link, and getMessageLog its rows and next-page token. */
const FILE_FIELDS = ['fileName', 'file_name', 'fileUrl', 'file_url', 'url', 'link'];
const ROW_LISTS = ['result', 'rows', 'items', 'data'];
const NEXT_TOKENS = ['pagination_token', 'paginationToken', 'next_token', 'nextToken', 'next'];
const TIME_FIELDS = ['timestamp', 'datetime', 'created_at', 'createdAt', 'time', 'date'];

export interface MessageLogRow {
  timestamp?: unknown;
  message_id?: unknown;
  message_code?: unknown;
  campaign_code?: unknown;
  application_code?: unknown;
  hwid?: unknown;
  user_id?: unknown;
  platform?: unknown;
  action?: unknown;
  [key: string]: unknown;
}

/** The texts of an answer: its status message and error, or the body itself. */
function textOf(body: unknown): string {
  if (typeof body === 'string') return body;
  const error = answerField(body, 'error');
  return [
    answerField(body, 'status_message', 'statusMessage', 'message'),
    error,
    answerField(error, 'message'),
  ]
    .filter((t): t is string => typeof t === 'string' && t !== '')
    .join('; ');
}

function jsonOrText(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A body's status_code as a number, also when it is sent as a string. */
function statusCodeOf(body: unknown): number | undefined {
  const code = answerField(body, 'status_code', 'statusCode');
  const n = typeof code === 'string' && /^\d+$/.test(code.trim()) ? Number(code) : code;
  return typeof n === 'number' ? n : undefined;
}

/** The first of `names` found in the first container that has one. */
function lookup(containers: unknown[], names: string[]): unknown {
  for (const c of containers) {
    const v = answerField(c, ...names);
    if (v !== undefined) return v;
  }
  return undefined;
}

export type ResultsAnswer =
  | { kind: 'ready'; url: string }
  | { kind: 'pending'; recognised: boolean }
  | { kind: 'failed'; state: string }
  | { kind: 'auth'; detail: string }
  | { kind: 'final'; status: number; message: string }
  | { kind: 'rejected'; code: number; message: string };

/**
 * A body `status_code` that is a final error: 210 is Pushwoosh's argument error (sent with HTTP
 * 200), 4xx a refused request. 0, 1xx, 202 and 5xx are left to the export timeout: not errors
 * of the request, or ones that a later poll may not meet.
 */
function isRejection(code: number | undefined): code is number {
  return code === 210 || (code !== undefined && code >= 400 && code <= 499);
}

/**
 * Reads a getResults answer. Pushwoosh does not document what it answers while the job runs, so
 * only a file link, a rejected token and an unknown request are taken as such; a job state of
 * failed restarts the export; anything else is "not ready yet" (`recognised` when it says so).
 */
export function readResults(status: number, body: unknown, apiUrl: string): ResultsAnswer {
  const text = textOf(body);
  if (status === 401 || status === 403 || AUTH.test(text))
    return { kind: 'auth', detail: `HTTP ${status}: ${text || snippet(body, 200)}` };
  if (FINAL.test(text) || ((status < 200 || status > 299) && !PENDING.test(text)))
    return { kind: 'final', status, message: text || snippet(body, 200) };
  const response = answerField(body, 'response');
  const link = lookup([response, body], FILE_FIELDS);
  const url = httpLink(link, apiUrl);
  if (url) return { kind: 'ready', url };
  const states = [answerField(body, 'status'), answerField(response, 'status')].filter(
    (s): s is string => typeof s === 'string',
  );
  const failed = states.find((s) => FAILED_STATE.test(s));
  if (failed) return { kind: 'failed', state: failed };
  const unusableLink = link !== undefined && link !== null && link !== '';
  const saysPending = PENDING.test([text, ...states].join(' '));
  // An argument error does not go away by waiting; a 210 that says "not ready" is a wait.
  const code = statusCodeOf(body);
  if (!saysPending && isRejection(code))
    return { kind: 'rejected', code, message: text || snippet(body, 200) };
  return { kind: 'pending', recognised: !unusableLink && saysPending };
}

/** Unix seconds or milliseconds become ISO; the rest is left for the stream to parse (or name). */
function instant(v: unknown): unknown {
  if (typeof v !== 'number') return v;
  const d = new Date(Math.abs(v) < 1e11 ? v * 1000 : v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

/** A getMessageLog row under the field names the stream reads (the row format is undocumented). */
export function normalizeMessageLogRow(row: unknown): MessageLogRow {
  return {
    timestamp: instant(answerField(row, ...TIME_FIELDS)),
    message_id: answerField(row, 'message_id', 'messageId'),
    message_code: answerField(row, 'message_code', 'messageCode'),
    campaign_code: answerField(row, 'campaign_code', 'campaignCode'),
    application_code: answerField(
      row,
      'application_code',
      'applicationCode',
      'app_code',
      'appCode',
    ),
    hwid: answerField(row, 'hwid'),
    user_id: answerField(row, 'user_id', 'userId'),
    platform: answerField(row, 'platform'),
    action: answerField(row, 'action', 'event', 'status'),
  };
}

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
