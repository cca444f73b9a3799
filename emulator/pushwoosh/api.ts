/**
 * Pushwoosh, as its documentation describes it (see docs/research/pushwoosh.md for sources and
 * for which behaviours are documented and which are the emulator's own choices):
 *
 * - `POST /json/1.3/getTrackingLog` + `POST /json/1.3/getResults` + a ZIP on the files origin
 *   (the deprecated push tracking log: `;`-separated CSV, `//`-prefixed header);
 * - `POST /api/v2/statistics/getMessageLog` and `POST /json/1.3/getMessageLog` (JSON rows,
 *   `pagination_token` paging, at most 30 days per query, Custom plan only).
 */

export interface PushwooshAccountFixture {
  /** Server API access token (body `auth`, or `Authorization: Token …` on /api/v2). */
  apiToken: string;
  /** Application code, `XXXXX-XXXXX`. */
  applicationCode: string;
  /**
   * The account's other applications: the tracking log (which takes no application) holds their
   * rows too, and getMessageLog serves them by its `application_code` filter.
   */
  moreApplicationCodes?: string[];
  /** false: getMessageLog answers as for an account without the Custom plan. */
  messageLogEnabled: boolean;
}

export const PUSHWOOSH_TRACKING_HEADER =
  '//timestamp;tracking_code;target_id;hwid;status;description;appCode;payload';
export const PUSHWOOSH_TRACKING_ENTRY = 'tracking_log.csv';
export const PUSHWOOSH_STATUSES = ['created', 'sent', 'delivered', 'failed', 'opened'] as const;
/** The tracking statuses that getMessageLog reports (its documented `actions` minus inbox ones). */
export const PUSHWOOSH_MESSAGE_LOG_ACTIONS = ['sent', 'delivered', 'opened'] as const;
/** Every `actions` filter value the documentation lists. */
export const PUSHWOOSH_DOCUMENTED_ACTIONS = [
  'sent',
  'delivered',
  'opened',
  'inbox_delivered',
  'inbox_read',
  'inbox_opened',
  'inbox_deleted',
] as const;
/** Every `platforms` filter value the documentation lists. */
export const PUSHWOOSH_DOCUMENTED_PLATFORMS = [
  'ios',
  'blackberry',
  'android',
  'windows phone',
  'osx',
  'windows',
  'amazon',
  'safari',
  'chrome',
  'firefox',
  'ie',
  'email',
  'baidu android',
  'huawei android',
] as const;

/** getMessageLog is served on both paths that public clients use (see the research note). */
export const PUSHWOOSH_MESSAGE_LOG_PATHS = [
  '/api/v2/statistics/getMessageLog',
  '/json/1.3/getMessageLog',
] as const;
export const PUSHWOOSH_MESSAGE_LOG_MAX_LIMIT = 100000;
export const PUSHWOOSH_MESSAGE_LOG_DEFAULT_LIMIT = 1000;
/** The tracking log covers today and the 13 days before it (UTC). */
export const PUSHWOOSH_TRACKING_DAYS = 14;

// Status messages. The pending and invalid-token answers are not documented by Pushwoosh: these
// are the emulator's choices (status_code 210, HTTP 200), told apart from each other by message.
export const PUSHWOOSH_PENDING_MESSAGE = 'Request is not ready yet';
export const PUSHWOOSH_ACCESS_DENIED_MESSAGE = 'Access denied or application not found';
export const PUSHWOOSH_MALFORMED_MESSAGE = 'Malformed request string';
export const PUSHWOOSH_DEFAULT_ARGUMENT_ERROR = 'Argument error';
export const PUSHWOOSH_INTERVAL_ERROR = 'exceeded the maximum date interval. Max interval: 30 days';
export const PUSHWOOSH_ACCOUNT_NOT_FOUND = 'account not found';
export const PUSHWOOSH_NOT_CUSTOM_PLAN =
  'access denied: getMessageLog is available for Custom plan subscriptions only';

/** Every application of an account, its first one first. */
export function pushwooshApplications(account: PushwooshAccountFixture): string[] {
  return [account.applicationCode, ...(account.moreApplicationCodes ?? [])];
}
