import { configError, ConnectorError, systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { JsonObject } from '../../airbyte/protocol';
import type { PushwooshConfig } from '../../config';
import type { ExportRepository, JobStatus } from '../../exports/job';
import { apiUrlOptions, HttpClient, snippet } from '../../http/client';
import type { Clock } from '../../util/clock';
import type { Day } from '../../util/time';

/**
 * getMessageLog's path: Pushwoosh documents the method on its Statistics API v2 page, whose
 * methods live under /api/v2/ (one public client agrees); another client, written from inside
 * Pushwoosh in 2021, used /json/1.3/. The first is tried, the second if it answers 404.
 */
export const MESSAGE_LOG_PATHS = ['/api/v2/statistics/getMessageLog', '/json/1.3/getMessageLog'];

/** getResults answers status_code 210 with such a text while the job runs (undocumented). */
const PENDING = /not ready|pending|processing|in progress|not finished/i;
const AUTH = /access denied|not found|unauthori[sz]ed|invalid (api )?token|forbidden/i;

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

/** The Pushwoosh calls: the token goes only to the API origin (in the body and header). */
export class PushwooshApi {
  readonly http: HttpClient;
  private messageLogPath: string | undefined;

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
  }

  private authError(detail: string): ConnectorError {
    return configError(
      `Pushwoosh rejected pushwoosh.api_token or does not know pushwoosh.application_code ${this.cfg.application_code} (${detail}). Use a server API access token from Settings > API Access.`,
    );
  }

  /**
   * Turns any Pushwoosh answer into its payload or the right error. Pushwoosh reports errors in
   * the HTTP status, in `status_code` (200 OK, 210 argument error) and in `{"error": …}` bodies.
   */
  private unwrap(
    what: string,
    status: number,
    body: unknown,
    pendingOk = false,
  ): JsonObject | 'pending' {
    const b = (body && typeof body === 'object' ? body : {}) as JsonObject;
    const error = typeof b.error === 'string' ? b.error : undefined;
    const code = typeof b.status_code === 'number' ? b.status_code : undefined;
    const message = String(b.status_message ?? error ?? snippet(body, 200));
    if (status === 401 || (status === 403 && !/custom plan/i.test(message)))
      return this.fail(this.authError(`HTTP ${status}: ${message}`));
    if (status === 403 || /custom plan/i.test(message)) {
      return this.fail(
        configError(
          `Pushwoosh refused ${what}: ${message}. getMessageLog is for Custom plans only; ask Pushwoosh to enable it, or set pushwoosh.log_api to tracking_log.`,
        ),
      );
    }
    if (error !== undefined) {
      if (AUTH.test(error)) return this.fail(this.authError(error));
      return this.fail(systemError(`Pushwoosh ${what} failed: ${error} (HTTP ${status})`));
    }
    if (status !== 200)
      return this.fail(systemError(`Pushwoosh ${what} answered HTTP ${status}: ${message}`));
    if (code === undefined || code === 200) return b;
    if (code === 210 && pendingOk && PENDING.test(message)) return 'pending';
    if (code === 210 && AUTH.test(message))
      return this.fail(this.authError(`status_code 210: ${message}`));
    return this.fail(systemError(`Pushwoosh ${what} failed with status_code ${code}: ${message}`));
  }

  private fail(err: ConnectorError): never {
    throw err;
  }

  private async call(path: string, what: string, request: JsonObject, pendingOk = false) {
    const res = await this.http.request({
      method: 'POST',
      url: `${this.cfg.api_url}${path}`,
      what: `Pushwoosh ${what}`,
      headers: { 'Content-Type': 'application/json' },
      data: JSON.stringify({ request: { auth: this.cfg.api_token, ...request } }),
    });
    return {
      status: res.status,
      body: res.data,
      unwrap: () => this.unwrap(what, res.status, res.data, pendingOk),
    };
  }

  /** One page of getMessageLog rows in [from, to). */
  async messageLogPage(
    from: string,
    to: string,
    limit: number,
    token?: string,
  ): Promise<{ rows: MessageLogRow[]; next?: string }> {
    const request: JsonObject = {
      application_code: this.cfg.application_code,
      date_from: from,
      date_to: to,
      limit,
    };
    if (token) request.pagination_token = token;
    let answer: JsonObject | 'pending' | undefined;
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
    const payload = ((answer as JsonObject).response ?? answer) as JsonObject;
    const rows = payload.result;
    if (!Array.isArray(rows))
      throw systemError(
        `Pushwoosh getMessageLog answered without a result list: ${snippet(answer)}`,
      );
    const next = payload.pagination_token;
    return {
      rows: rows as MessageLogRow[],
      next: typeof next === 'string' && next !== '' ? next : undefined,
    };
  }

  trackingLog(day: Day): ExportRepository<{ requestId: string }> {
    return new TrackingLogExport(this, day);
  }

  async requestTrackingLog(day: Day): Promise<string> {
    const r = (
      await this.call('/json/1.3/getTrackingLog', `getTrackingLog for ${day}`, { date: day })
    ).unwrap() as JsonObject;
    const id = (r.response as JsonObject | null)?.request_id;
    if (typeof id !== 'string' || id === '')
      throw systemError(`Pushwoosh getTrackingLog gave no request_id: ${snippet(r)}`);
    return id;
  }

  async results(requestId: string, day: Day): Promise<JobStatus> {
    const r = (
      await this.call(
        '/json/1.3/getResults',
        `getResults for the ${day} tracking log`,
        { request_id: requestId },
        true,
      )
    ).unwrap();
    if (r === 'pending')
      return { state: 'running', detail: 'Pushwoosh is still preparing the file' };
    const file = (r.response as JsonObject | null)?.fileName;
    if (typeof file !== 'string' || !/^https?:\/\//.test(file))
      return { state: 'running', detail: 'no file link yet' };
    return { state: 'completed', download: { url: file } };
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
