import { configError } from './errors';
import type { Logger } from './logger';
import type { JsonObject } from './protocol';
import { addDays, type Day, isValidDay, maxDay } from '../util/time';

/** Days to read, both ends included; empty when `from > to`. */
export interface DayWindow {
  from: Day;
  to: Day;
}

export interface WindowInputs {
  stream: string;
  startDate?: Day;
  /** The last day already checkpointed. */
  cursor?: Day;
  lookbackDays: number;
  /** The oldest day the API still serves, and the vendor's name for why. */
  oldestDay: Day;
  retention: string;
  /** The newest complete day (yesterday, UTC). */
  lastDay: Day;
}

/**
 * The window of an incremental, day-keyed stream: from the latest of start_date, the cursor
 * minus the lookback, and the oldest day the API keeps, to the newest complete day.
 */
export function dayWindow(i: WindowInputs, logger: Logger): DayWindow {
  const wanted = i.cursor !== undefined ? addDays(i.cursor, -i.lookbackDays) : i.startDate;
  let from =
    wanted !== undefined && i.startDate !== undefined
      ? maxDay(wanted, i.startDate)
      : (wanted ?? i.oldestDay);
  if (from < i.oldestDay) {
    const what =
      i.cursor !== undefined
        ? `the saved cursor ${i.cursor} (minus ${i.lookbackDays} lookback days)`
        : `start_date ${from}`;
    logger.warn(
      `${i.stream}: ${what} is older than the ${i.retention}; reading from ${i.oldestDay}. Data before that day is no longer available.`,
    );
    from = i.oldestDay;
  }
  return { from, to: i.lastDay };
}

/** Validates a `{ "<key>": "YYYY-MM-DD" }` state; `{}` means none. */
export function parseDayState(raw: unknown, stream: string, key = 'date'): JsonObject {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(
      `The saved state of stream ${stream} must be an object, not ${JSON.stringify(raw)}.`,
    );
  }
  const value = (raw as JsonObject)[key];
  if (value === undefined) return {};
  if (typeof value !== 'string' || !isValidDay(value)) {
    throw configError(
      `The saved state of stream ${stream} has ${key} ${JSON.stringify(value)}, which is not a date written YYYY-MM-DD. Reset the stream's state or correct it.`,
    );
  }
  return { [key]: value };
}

/** The state after completing `day`: the cursor never moves back (lookback days re-read). */
export function advance(cursor: Day | undefined, day: Day): Day {
  return cursor !== undefined && cursor > day ? cursor : day;
}
