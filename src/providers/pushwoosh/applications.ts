import type { Logger } from '../../airbyte/logger';
import { isObject } from '../../util/json';

/** The state keeps one cursor per application: `{"applications": {"<code>": {"date": …}}}`. */
export const STATE_GROUP = 'applications';

/** How many unconfigured applications the summary names; the rest are counted together. */
const NAMED = 10;

/**
 * 0.1.0 kept one cursor, `{"date": …}`, for its one `application_code`: it becomes that
 * application's cursor. Without that field nobody knows whose cursor it was, so it is dropped
 * (`orphaned`) and every application reads from the start: re-read rows dedupe by the key.
 */
export function upgradePushwooshLegacyState(
  raw: unknown,
  legacyApplication: string | undefined,
): { state: unknown; orphaned?: unknown } {
  if (!isObject(raw) || raw.date === undefined || raw[STATE_GROUP] !== undefined)
    return { state: raw };
  const { date, ...rest } = raw;
  if (legacyApplication === undefined) return { state: rest, orphaned: date };
  return { state: { ...rest, [STATE_GROUP]: { [legacyApplication]: { date } } } };
}

/** Rows of applications that are not configured: dropped, never relabelled, and counted. */
export class DroppedRows {
  private readonly byApplication = new Map<string, number>();

  /** `application`: the row's own code ('' or undefined when it has none). */
  add(application: string | undefined): void {
    const key = application ?? '';
    this.byApplication.set(key, (this.byApplication.get(key) ?? 0) + 1);
  }

  /** One line per sync, naming the applications (the biggest first). */
  log(stream: string, logger: Logger): void {
    if (!this.byApplication.size) return;
    const counts = [...this.byApplication].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((n, [, c]) => n + c, 0);
    const named = counts
      .slice(0, NAMED)
      .map(([app, n]) => `${app === '' ? 'without an application code' : app}: ${n}`);
    const others = counts.length - NAMED;
    if (others > 0) named.push(`${others} more application(s)`);
    logger.info(
      `${stream}: dropped ${total} row(s) of applications that are not configured (${named.join(', ')}); add a code to pushwoosh.application_codes to sync its rows.`,
    );
  }
}
