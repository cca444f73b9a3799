import { createHash } from 'node:crypto';
import type { Logger } from '../../airbyte/logger';
import type { SharedConfig } from '../../config';
import type { OneSignalConfig } from './config';
import type { SyncContext } from '../../sync/partitioned-stream';
import { microsIso } from '../../sync/state';
import { timeWindowStart } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { OneSignalAppClient, type OneSignalMessage } from './api';

/** OneSignal keeps audience activity (and API-sent messages) about 30 days after the send. */
const RETENTION_DAYS = 30;

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

/**
 * A message still unfinished this long after its send time is taken as never finishing (the docs
 * name this bound): it no longer holds the cursor back.
 */
export const UNFINISHED_BOUND_HOURS = 72;

/**
 * Why a message that is not done is final all the same (re-read only within the lookback):
 * canceled, or unfinished past the bound; undefined while it is still being delivered.
 */
export function finalWithoutDone(m: OneSignalMessage, now: number): string | undefined {
  if (isDone(m)) return undefined;
  if (m.canceled === true) return 'was canceled';
  const hours = (now / 1000 - m.send_after) / 3600;
  if (hours > UNFINISHED_BOUND_HOURS)
    return `is still unfinished ${Math.floor(hours)} hours after its send time (over ${UNFINISHED_BOUND_HOURS})`;
  return undefined;
}

/** Rows a message's export will hold, from its own counts. */
export const expectedRows = (m: OneSignalMessage) =>
  (m.successful ?? 0) + (m.failed ?? 0) + (m.errored ?? 0) + (m.remaining ?? 0);

export const sentAt = (m: OneSignalMessage) => new Date(m.send_after * 1000).toISOString();

/** Only push messages are exported: email and SMS exports have other columns. */
function pushOnly(listed: OneSignalMessage[], label: string, logger: Logger) {
  return listed.filter((m) => {
    if (m.isEmail || m.isSms)
      logger.info(
        `${label}: message ${m.id} is ${m.isEmail ? 'an email' : 'an SMS'}; only push messages are exported.`,
      );
    return !m.isEmail && !m.isSms;
  });
}

/** One app's push messages in this sync's window, oldest first, and where the cursor may move. */
export interface AppListing {
  client: OneSignalAppClient;
  /** The app's state partition. */
  partition: string;
  messages: OneSignalMessage[];
  /**
   * The cursor after each message, when it ends a prefix of finished messages at the last message
   * of its send time (the listing resumes strictly after it); undefined elsewhere. So a message
   * still being delivered, and every one after it, is listed (and exported) again next time.
   */
  advanceTo: (string | undefined)[];
}

/** Lists an app's messages from its cursor minus the lookback (or start_date), within retention. */
export async function listApp(
  config: SharedConfig,
  onesignal: OneSignalConfig,
  index: number,
  ctx: Pick<SyncContext, 'cursors' | 'logger' | 'syncMode'>,
  clock: Clock,
): Promise<AppListing> {
  const app = onesignal.apps[index];
  const client = new OneSignalAppClient(
    { appId: app.app_id, apiKey: app.api_key, index },
    onesignal.api_url,
    ctx.logger,
    clock,
  );
  const partition = appKey(app.app_id);
  const cursor = ctx.cursors.cursor(partition);
  const since = timeWindowStart(
    { startDate: config.start_date, lookbackDays: config.lookback_days },
    {
      label: client.label,
      cursor,
      now: clock.now(),
      keepDays: RETENTION_DAYS,
      retention: `${RETENTION_DAYS} days OneSignal keeps audience activity`,
    },
    ctx,
  );
  const offset = listingStart(since, cursor, config.lookback_days);
  const listed = await client.messagesSince(offset);
  const messages = pushOnly(listed.messages, client.label, ctx.logger);
  messages.sort((a, b) => a.send_after - b.send_after || (a.id < b.id ? -1 : 1));
  ctx.logger.info(`${client.label}: ${messages.length} push message(s) sent since ${offset}.`);
  let done = true;
  const now = clock.now();
  const advanceTo = messages.map((m, i) => {
    const final = finalWithoutDone(m, now);
    if (final && done)
      ctx.logger.info(
        `${client.label}: message ${m.id} ${final}; it no longer holds the cursor back and is re-read only within lookback_days.`,
      );
    done = done && (isDone(m) || final !== undefined);
    const next = messages[i + 1];
    return done && (!next || next.send_after !== m.send_after)
      ? (listed.precise.get(m.id) ?? lastMicroOf(m))
      : undefined;
  });
  return { client, partition, messages, advanceTo };
}

/**
 * The last microsecond of a message's whole send second: OneSignal orders messages on a precise
 * time within it. The cursor moves past a message only when it is the last listed one of its
 * second, so no listed message lies between its precise time and this one.
 */
const lastMicroOf = (m: OneSignalMessage) =>
  `${new Date(m.send_after * 1000).toISOString().slice(0, 19)}.999999Z`;

/**
 * The listing's time_offset: `since`, with the cursor's microseconds when it is the cursor (minus
 * whole lookback days), so that "strictly after" does not list the cursor's message again.
 */
function listingStart(since: Date, cursor: string | undefined, lookbackDays: number): string {
  const precise = cursor !== undefined ? microsIso(cursor) : undefined;
  if (precise && since.getTime() === Date.parse(precise) - lookbackDays * 86_400_000)
    return `${since.toISOString().slice(0, 19)}${precise.slice(19)}`;
  return since.toISOString();
}

/** An export with fewer rows than this share of its reported counts is reported. */
const SHORTFALL_RATIO = 0.5;
const SHORTFALL_MIN_ROWS = 100;

/**
 * An export far smaller than the counts OneSignal reports for its message is worth a word: a
 * file cut short upstream, or events OneSignal has not written (yet). The rows are still synced.
 */
export function warnIfShort(
  rows: number,
  message: OneSignalMessage,
  label: string,
  logger: { warn(m: string): void },
) {
  const reported = expectedRows(message);
  if (reported >= SHORTFALL_MIN_ROWS && rows < reported * SHORTFALL_RATIO) {
    logger.warn(
      `${label}: the export of message ${message.id} has ${rows} row(s), far fewer than the ${reported} OneSignal reports for it (successful, failed, errored and remaining); they are synced as they are.`,
    );
  }
}
