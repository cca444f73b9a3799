import { systemError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { ApnsApp, ApnsConfig } from './config';
import type { ExportRepository, JobStatus } from '../../exports/job';
import { apiUrlOptions, HttpClient, snippet } from '../../http/client';
import { errorFor } from '../../http/error-table';
import { answerField, httpLink, UnknownAnswers } from '../../http/unknown-answers';
import type { Clock } from '../../util/clock';
import { addDays, type Day } from '../../util/time';
import {
  apnsErrorTables,
  type ApnsErrorTables,
  type ApnsExportRequest,
  DOCUMENTED,
  reasonOf,
  spellingOf,
  STATUS_ALIASES,
} from './answers';
import type { ApnsDataset } from './datasets';

export const TOKEN_HEADER = 'X-Apple-CloudKit-Management-Token';

interface ApnsJob {
  statusUrl: string;
}

/** Apple's own hosts: a status URL Apple hands out may live on another of them. */
const isAppleHost = (u: URL) => /(^|\.)(apple\.com|icloud\.com)$/.test(u.hostname);

/** The client of one Data Export Token: it goes to the api_url origin and Apple's own hosts. */
function apnsClient(
  apns: Pick<ApnsConfig, 'api_url'>,
  token: string,
  logger: Logger,
  clock: Clock,
) {
  return new HttpClient(logger, {
    clock,
    ...apiUrlOptions(apns.api_url, 'apns.api_url'),
    credential: {
      origin: new URL(apns.api_url).origin,
      headers: { [TOKEN_HEADER]: token },
      alsoFor: isAppleHost,
    },
  });
}

/** The request's dates: Apple wants endDate after startDate, so a one-day window asks for two. */
export function requestRange(from: Day, to: Day): { startDate: Day; endDate: Day } {
  return { startDate: from === to ? addDays(from, -1) : from, endDate: to };
}

/** The export of one app's dataset (of one of its channels), with that app's token. */
export function appExport(
  apns: ApnsConfig,
  app: ApnsApp,
  def: ApnsDataset,
  o: {
    range: { startDate: Day; endDate: Day };
    channel?: { id: string; index: number };
    logger: Logger;
    clock: Clock;
  },
): ApnsExportRepository {
  return new ApnsExportRepository(
    apnsClient(apns, app[def.tokenField] as string, o.logger, o.clock),
    {
      apiUrl: apns.api_url,
      teamId: apns.team_id,
      bundleId: app.bundle_id,
      appPath: app.path,
      dataset: def.dataset,
      tokenField: def.tokenField,
      channelId: o.channel?.id,
      channelIndex: o.channel?.index,
      ...o.range,
    },
  );
}

/**
 * Apple's APNs data export (iCloud Web Services "dataExports"): POST a request, GET its status
 * URL until SUCCESS, then GET the `dataUrl` (without the token).
 */
export class ApnsExportRepository implements ExportRepository<ApnsJob> {
  readonly describe: string;
  private readonly errors: ApnsErrorTables;

  constructor(
    /** The token's client: the engine downloads through it too. */
    readonly http: HttpClient,
    private readonly req: ApnsExportRequest,
  ) {
    const channel = req.channelId ? ` channel ${req.channelId}` : '';
    this.describe = `APNs ${req.dataset} export of ${req.bundleId}${channel} ${req.startDate}..${req.endDate}`;
    this.errors = apnsErrorTables(req, this.describe);
  }

  get requestUrl(): string {
    const r = this.req;
    return `${r.apiUrl}/v1/dataExports/apns/teams/${encodeURIComponent(r.teamId)}/appId/${encodeURIComponent(r.bundleId)}/datasetName/${r.dataset}/request`;
  }

  async start(): Promise<ApnsJob> {
    const r = this.req;
    const body: Record<string, unknown> = {
      startDate: r.startDate,
      endDate: r.endDate,
      dataDownloadUrlExpiresInMinutes: 60,
    };
    if (r.channelId !== undefined) body.channelId = r.channelId;
    const res = await this.http.request<unknown>({
      method: 'POST',
      url: this.requestUrl,
      what: `${this.describe} request`,
      headers: { 'Content-Type': 'application/json' },
      data: JSON.stringify(body),
    });
    if (res.status === 200 || res.status === 201 || res.status === 202) {
      // Apple's docs write statusUrl; answerField() also reads statusURL.
      const statusUrl = httpLink(answerField(res.data, 'statusUrl'), this.requestUrl);
      if (!statusUrl) {
        throw systemError(
          `${this.describe}: Apple's answer has no statusUrl: ${snippet(res.data)}`,
        );
      }
      return { statusUrl };
    }
    throw this.requestError(res.status, res.data);
  }

  async poll(job: ApnsJob): Promise<JobStatus> {
    const res = await this.http.request<unknown>({
      method: 'GET',
      url: job.statusUrl,
      what: `${this.describe} status`,
    });
    if (res.status < 200 || res.status > 299) throw this.statusError(res.status, res.data);
    const spelled = spellingOf(answerField(res.data, 'status'));
    const status = STATUS_ALIASES[spelled];
    if (!DOCUMENTED.has(spelled)) {
      const treatment = status ? `treating it as ${status}` : 'treating it as still running';
      UnknownAnswers.of(this.http.logger).note('Apple export status', res.data, treatment);
    }
    switch (status) {
      case 'FAILED':
        return { state: 'failed', reason: 'Apple reported FAILED' };
      case 'EXPIRED':
        return { state: 'expired', reason: 'Apple reported EXPIRED' };
      case 'SUCCESS':
        return { state: 'completed', download: { url: this.dataUrl(res.data) } };
      default:
        return { state: 'running', detail: 'Apple is still processing the export' };
    }
  }

  /**
   * `downloadDetails.dataUrl` (Apple's docs also write `dataURL`). A list of one part is read as
   * that part; the engine downloads one file, so a list of several is refused, not half-read.
   */
  private dataUrl(body: unknown): string {
    let details = answerField(body, 'downloadDetails');
    if (Array.isArray(details)) {
      if (details.length > 1) {
        throw systemError(
          `${this.describe}: Apple's answer lists ${details.length} download parts; this connector reads one file. Please report it: ${snippet(body)}`,
        );
      }
      details = details[0];
    }
    const url = httpLink(answerField(details, 'dataUrl'), this.requestUrl);
    if (!url) {
      throw systemError(
        `${this.describe}: status SUCCESS without a downloadDetails.dataUrl: ${snippet(body)}`,
      );
    }
    return url;
  }

  requestError(status: number, body: unknown): Error {
    const t = this.errors;
    return errorFor(t.request, { status, body, reason: reasonOf(body) }, t.requestFallback);
  }

  private statusError(status: number, body: unknown): Error {
    const t = this.errors;
    return errorFor(t.status, { status, body, reason: reasonOf(body) }, t.statusFallback);
  }
}
