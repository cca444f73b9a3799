import type { Logger } from '../airbyte/logger';
import type { SyncMode } from '../airbyte/protocol';
import { addDays, DAY_MS, type Day } from '../util/time';

/** The config's part of every window: where a first sync starts, and what a later one re-reads. */
export interface WindowPolicy {
  startDate?: Day;
  lookbackDays: number;
}

/**
 * What a window needs of the read: its log, and its sync mode. Only an incremental sync re-reads
 * lookback days; a full refresh starts at the beginning, or, given a state (the platform's retry
 * of a resumable full refresh), right after it, so that nothing the state covers is sent twice.
 */
export interface WindowContext {
  logger: Logger;
  syncMode: SyncMode;
}

const lookbackOf = (policy: WindowPolicy, ctx: WindowContext) =>
  ctx.syncMode === 'incremental' ? policy.lookbackDays : 0;

/** Days to read, both ends included; empty when `from > to`. */
export interface DayWindow {
  from: Day;
  to: Day;
}

/**
 * The first position to read: the latest of start_date, the first unread position minus the
 * lookback, and the oldest position the vendor still serves (with a warning when that cuts the
 * wish short). So lookback N re-reads exactly N days, and 0 re-reads nothing. One rule for day
 * cursors and time cursors: positions are ms since the epoch.
 */
function firstPosition(
  p: {
    label: string;
    retention: string;
    start?: number;
    /** The saved cursor, for words, and the first position after it that is not read yet. */
    cursor?: { shown: string; unread: number };
    lookbackMs: number;
    oldest: number;
    /** Slack below `oldest` that is not worth a warning. */
    toleranceMs: number;
    show: (ms: number) => string;
    lookbackDays: number;
  },
  logger: Logger,
): number {
  const wanted = p.cursor !== undefined ? p.cursor.unread - p.lookbackMs : p.start;
  const from = wanted !== undefined && p.start !== undefined ? Math.max(wanted, p.start) : wanted;
  if (from === undefined) return p.oldest;
  if (from < p.oldest - p.toleranceMs) {
    const what =
      p.cursor !== undefined
        ? `the saved cursor ${p.cursor.shown} (minus ${p.lookbackDays} lookback days)`
        : `start_date ${p.show(from)}`;
    logger.warn(
      `${p.label}: ${what} is older than the ${p.retention}; reading from ${p.show(p.oldest)}. Data before that is no longer available.`,
    );
  }
  return Math.max(from, p.oldest);
}

const dayMs = (d: Day) => Date.parse(`${d}T00:00:00Z`);
const msDay = (ms: number): Day => new Date(ms).toISOString().slice(0, 10);

/** Windows of a day-keyed vendor: it keeps `keepDays` days, the newest complete one yesterday. */
export class DayWindows {
  constructor(
    private readonly policy: WindowPolicy,
    private readonly keep: { oldest: (today: Day) => Day; retention: string },
  ) {}

  /** The window of a partition whose last completed day is `cursor`, as of `today`. */
  of(label: string, cursor: Day | undefined, today: Day, ctx: WindowContext): DayWindow {
    const lookbackDays = lookbackOf(this.policy, ctx);
    const from = firstPosition(
      {
        label,
        retention: this.keep.retention,
        start: this.policy.startDate !== undefined ? dayMs(this.policy.startDate) : undefined,
        // The cursor is the last complete day: reading resumes the day after.
        cursor:
          cursor !== undefined ? { shown: cursor, unread: dayMs(cursor) + DAY_MS } : undefined,
        lookbackMs: lookbackDays * DAY_MS,
        oldest: dayMs(this.keep.oldest(today)),
        toleranceMs: 0,
        show: msDay,
        lookbackDays,
      },
      ctx.logger,
    );
    return { from: msDay(from), to: addDays(today, -1) };
  }

  /** The window to read, logged; undefined (and said so) when there is nothing to read yet. */
  plan(
    label: string,
    cursor: Day | undefined,
    today: Day,
    ctx: WindowContext,
    how: string,
  ): DayWindow | undefined {
    const { logger } = ctx;
    const window = this.of(label, cursor, today, ctx);
    if (window.from > window.to) {
      logger.info(
        `${label}: nothing to read (${cursor ? `cursor ${cursor}` : `start ${window.from}`} is after ${window.to}).`,
      );
      return undefined;
    }
    logger.info(`${label}: reading ${window.from}..${window.to} ${how}.`);
    return window;
  }
}

/** Where a time-keyed listing starts: strictly after the returned time. */
export function timeWindowStart(
  policy: WindowPolicy,
  p: { label: string; cursor?: string; now: number; keepDays: number; retention: string },
  ctx: WindowContext,
): Date {
  const lookbackDays = lookbackOf(policy, ctx);
  return new Date(
    firstPosition(
      {
        label: p.label,
        retention: p.retention,
        start: policy.startDate !== undefined ? dayMs(policy.startDate) : undefined,
        // The listing resumes strictly after the cursor's time.
        cursor:
          p.cursor !== undefined ? { shown: p.cursor, unread: Date.parse(p.cursor) } : undefined,
        lookbackMs: lookbackDays * DAY_MS,
        oldest: p.now - p.keepDays * DAY_MS,
        // A start_date of "30 days ago" is not worth a warning for a few seconds' difference.
        toleranceMs: 60_000,
        show: (ms) => new Date(ms).toISOString(),
        lookbackDays,
      },
      ctx.logger,
    ),
  );
}
