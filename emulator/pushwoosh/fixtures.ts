import type { PushwooshAccountFixture } from './api';

/**
 * The default Pushwoosh account: a fake server API token (long and distinctive, for leak checks),
 * the application code of Pushwoosh's own tracking-log example, and two more applications, so
 * that the account-wide tracking log holds rows of applications a test does not configure.
 */
export const DEFAULT_PUSHWOOSH_ACCOUNT: PushwooshAccountFixture = {
  apiToken: 'pw-token-Vq3LkT9xZr2WmB7yHcN4sEd8JfUa6GpQ1oKi5tXw',
  applicationCode: 'C90C0-0E786',
  moreApplicationCodes: ['4F7A2-9B1D3', 'E5C8B-0A6F4'],
  messageLogEnabled: true,
};

/** getResults calls that answer "not ready" before a tracking-log job has its file. */
export const DEFAULT_PUSHWOOSH_PENDING_POLLS = 2;

/** Tracking-log events per application and UTC day. */
export const DEFAULT_PUSHWOOSH_EVENTS_PER_DAY = 40;
