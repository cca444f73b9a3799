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

const stateError = (stream: string, what: string) =>
  configError(
    `The saved state of stream ${stream} ${what}. Reset the stream's state or correct it.`,
  );

const isObject = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Validates a state of one cursor per partition, `{ <group>: { <id>: { <field>: value } } }`
 * (per channel, per app); `{}` means none. `normalize` returns the cursor's canonical value, or
 * undefined when it is not `expected`.
 */
export function parsePartitionedState(
  raw: unknown,
  stream: string,
  shape: {
    group: string;
    label: string;
    field: string;
    expected: string;
    normalize: (v: unknown) => string | undefined;
  },
): JsonObject {
  if (!isObject(raw)) throw stateError(stream, `must be an object, not ${JSON.stringify(raw)}`);
  const group = raw[shape.group];
  if (group === undefined) return {};
  if (!isObject(group)) throw stateError(stream, `has "${shape.group}" that is not an object`);
  const out: Record<string, Record<string, string>> = {};
  for (const [id, value] of Object.entries(group)) {
    const v = isObject(value) ? value[shape.field] : undefined;
    const cursor = shape.normalize(v);
    if (cursor === undefined) {
      throw stateError(
        stream,
        `has ${shape.label} ${id} with ${shape.field} ${JSON.stringify(v)}, which is not ${shape.expected}`,
      );
    }
    out[id] = { [shape.field]: cursor };
  }
  return { [shape.group]: out };
}

/** A `YYYY-MM-DD` cursor value, or undefined. */
export const dayValue = (v: unknown): string | undefined =>
  typeof v === 'string' && isValidDay(v) ? v : undefined;

/** Validates a `{ "<key>": "YYYY-MM-DD" }` state; `{}` means none. */
export function parseDayState(raw: unknown, stream: string, key = 'date'): JsonObject {
  if (!isObject(raw)) throw stateError(stream, `must be an object, not ${JSON.stringify(raw)}`);
  const value = raw[key];
  if (value === undefined) return {};
  if (dayValue(value) === undefined) {
    throw stateError(
      stream,
      `has ${key} ${JSON.stringify(value)}, which is not a date written YYYY-MM-DD`,
    );
  }
  return { [key]: value as string };
}

/** The state after completing `day`: the cursor never moves back (lookback days re-read). */
export function advance(cursor: Day | undefined, day: Day): Day {
  return cursor !== undefined && cursor > day ? cursor : day;
}
