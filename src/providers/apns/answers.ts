import { snippet } from '../../http/client';
import type { ErrorRule, VendorAnswer } from '../../http/error-table';
import type { Day } from '../../util/time';

/** One export request of an app's dataset: what is asked, and where it is in the config. */
export interface ApnsExportRequest {
  apiUrl: string;
  teamId: string;
  bundleId: string;
  /** Where the app is in the config (`apns`, `apns.apps[2]`), for error messages. */
  appPath: string;
  dataset: string;
  /** The app's field of the token, for error messages. */
  tokenField: string;
  startDate: Day;
  endDate: Day;
  /** Broadcast channel dataset only: goes in the body. */
  channelId?: string;
  /** Its place in the app's `channel_ids`, for error messages. */
  channelIndex?: number;
}

/** Apple's error bodies are undocumented; show what they say, briefly. */
export function reasonOf(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const r = b.reason ?? b.message ?? b.serverErrorCode ?? b.error;
    if (typeof r === 'string') return r;
  }
  return snippet(body, 200);
}

/**
 * Apple's documented statuses, and the spellings read as them (compared upper-cased, `-` and
 * spaces as `_`). Any other status is taken as still running, logged once, until the timeout
 * (docs/research/apns-onesignal-answers.md).
 */
export const STATUS_ALIASES: Record<string, 'PROCESSING' | 'FAILED' | 'EXPIRED' | 'SUCCESS'> = {
  PROCESSING: 'PROCESSING',
  FAILED: 'FAILED',
  FAILURE: 'FAILED',
  EXPIRED: 'EXPIRED',
  SUCCESS: 'SUCCESS',
  SUCCEEDED: 'SUCCESS',
  COMPLETED: 'SUCCESS',
};
export const DOCUMENTED = new Set(['PROCESSING', 'FAILED', 'EXPIRED', 'SUCCESS']);

export function spellingOf(status: unknown): string {
  return typeof status === 'string'
    ? status
        .trim()
        .toUpperCase()
        .replace(/[\s-]+/g, '_')
    : '';
}

/** What Apple's answers that are not a success mean, for the request and for its status URL. */
export interface ApnsErrorTables {
  request: ErrorRule[];
  status: ErrorRule[];
  /** Any other answer to the request. */
  requestFallback: (a: VendorAnswer) => string;
  /** Any other answer of the status URL. */
  statusFallback: (a: VendorAnswer) => string;
}

/** `describe` names the export in messages that are not about the config. */
export function apnsErrorTables(r: ApnsExportRequest, describe: string): ApnsErrorTables {
  const token: Omit<ErrorRule, 'status'> = {
    failure: 'config_error',
    message: (a) =>
      `Apple rejected ${r.appPath}.${r.tokenField} for ${r.dataset} (HTTP ${a.status}: ${a.reason}). ` +
      `Check that the Data Export Token was made for bundle ${r.bundleId} and this dataset, and has not expired.`,
  };
  return {
    request: [
      { status: [401, 403], ...token },
      {
        status: 404,
        when: () => r.channelId !== undefined,
        failure: 'config_error',
        message: (a) =>
          `Apple does not know broadcast channel ${r.channelId} (${r.appPath}.channel_ids[${r.channelIndex}]) of bundle ${r.bundleId} (HTTP 404: ${a.reason}). Remove it from ${r.appPath}.channel_ids or correct it.`,
      },
      {
        status: 404,
        failure: 'config_error',
        message: (a) =>
          `Apple answered HTTP 404 for team ${r.teamId} and bundle ${r.bundleId} (${a.reason}). Check apns.team_id and ${r.appPath}.bundle_id.`,
      },
      {
        status: 400,
        failure: 'system_error',
        message: (a) =>
          `${describe}: Apple refused the request as badly formed (HTTP 400: ${a.reason}).`,
      },
    ],
    // Apple's two pages disagree: 401 or 404 both mean a bad token on the status URL.
    status: [{ status: [401, 404], ...token }],
    requestFallback: (a) => `${describe}: Apple answered HTTP ${a.status}: ${a.reason}`,
    statusFallback: (a) => `${describe}: the status check answered HTTP ${a.status}: ${a.reason}`,
  };
}
