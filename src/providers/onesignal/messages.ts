import { createHash } from 'node:crypto';
import type { Logger } from '../../airbyte/logger';
import type { OneSignalMessage } from './api';

/**
 * The state key of an app: a hash, not the App ID itself, which the spec marks secret (and
 * secrets are redacted from every non-record message, states included).
 */
export function appKey(appId: string): string {
  return `app_${createHash('sha256').update(appId).digest('hex').slice(0, 16)}`;
}

/** A message counts as done when OneSignal finished sending it. */
export const isDone = (m: OneSignalMessage) =>
  m.completed_at !== null && m.completed_at !== undefined && m.remaining === 0;

/** Rows a message's export will hold, from its own counts. */
export const expectedRows = (m: OneSignalMessage) =>
  (m.successful ?? 0) + (m.failed ?? 0) + (m.errored ?? 0) + (m.remaining ?? 0);

export const sentAt = (m: OneSignalMessage) => new Date(m.send_after * 1000).toISOString();

/** Only push messages are exported: email and SMS exports have other columns. */
export function pushOnly(listed: OneSignalMessage[], label: string, logger: Logger) {
  return listed.filter((m) => {
    if (m.isEmail || m.isSms)
      logger.info(
        `${label}: message ${m.id} is ${m.isEmail ? 'an email' : 'an SMS'}; only push messages are exported.`,
      );
    return !m.isEmail && !m.isSms;
  });
}
