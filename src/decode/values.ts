import { DAY_MS } from '../util/time';
import { DecodeError } from './errors';

/*
 * Converters for raw CSV strings. They run for every field of every row, so they scan characters
 * by hand instead of using regexes or Date.parse, and allocate nothing but their result.
 */

const SPACE = 32;
const TAB = 9;
const ZERO = 48;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const COMMA = 44;
const COLON = 58;
const SLASH = 47;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

/** Names the column and what it should hold, never the value: a cell may be personal data. */
function invalid(column: string, expected: string): DecodeError {
  return new DecodeError(`column ${JSON.stringify(column)}: expected ${expected}`);
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** `raw` without surrounding spaces; the same string (no copy) in the usual case. */
function trimmed(raw: string): string {
  const n = raw.length;
  if (n === 0 || (!isSpace(raw.charCodeAt(0)) && !isSpace(raw.charCodeAt(n - 1)))) return raw;
  return raw.trim();
}

/** The number written by `count` digits from index `from`, or -1. */
function digits(s: string, from: number, count: number): number {
  if (from + count > s.length) return -1;
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * A count: a whole number >= 0. `''` (or spaces) is null; `"12.0"` is 12; `"-1"` is null with
 * `minusOneIsNull` (vendors' "not available"). Thousands separators, signs, fractions and
 * other negatives are errors.
 */
export function parseCount(
  raw: string,
  column: string,
  opts?: { minusOneIsNull?: boolean },
): number | null {
  let i = 0;
  let end = raw.length;
  while (i < end && isSpace(raw.charCodeAt(i))) i++;
  while (end > i && isSpace(raw.charCodeAt(end - 1))) end--;
  if (i === end) return null;
  const negative = raw.charCodeAt(i) === MINUS;
  if (negative) i++;
  const start = i;
  let value = 0;
  for (; i < end; i++) {
    const d = raw.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) break;
    value = value * 10 + d;
  }
  if (i === start) throw invalid(column, 'a whole number');
  if (i < end) {
    // "12.0" is a whole number written by a float-minded exporter; "12." and "12.5" are not.
    if (raw.charCodeAt(i) !== DOT || i + 1 === end) throw invalid(column, 'a whole number');
    for (i++; i < end; i++) {
      if (raw.charCodeAt(i) !== ZERO) throw invalid(column, 'a whole number');
    }
  }
  if (value > Number.MAX_SAFE_INTEGER) throw invalid(column, 'a whole number below 2^53');
  if (negative && value !== 0) {
    if (value === 1 && opts?.minusOneIsNull) return null;
    throw invalid(column, 'a count (a whole number >= 0)');
  }
  return value;
}

// The last date/time scanned. Module state instead of a result object: no allocation per value.
const scanned = {
  year: 0,
  month: 0,
  day: 0,
  hour: 0,
  minute: 0,
  second: 0,
  /** Milliseconds as three digits ("000".."999"). */
  millis: '000',
  /** Zone offset in minutes east of UTC. */
  offset: 0,
  hasTime: false,
};

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  if (month === 2 && day === 29) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= DAYS_IN_MONTH[month - 1];
}

/**
 * Scans `YYYY-MM-DD` or `YYYY/MM/DD`, optionally followed by `T` or a space, `HH:MM[:SS[.fff…]]`
 * and a zone (`Z`, `±HH`, `±HHMM`, `±HH:MM`, `UTC`, optionally after a space) into `scanned`.
 */
function scanDateTime(s: string): boolean {
  const year = digits(s, 0, 4);
  const sep = s.charCodeAt(4);
  if (year < 0 || (sep !== MINUS && sep !== SLASH) || s.charCodeAt(7) !== sep) return false;
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (!isRealDate(year, month, day)) return false;
  scanned.year = year;
  scanned.month = month;
  scanned.day = day;
  scanned.hasTime = false;
  const n = s.length;
  if (n === 10) return true;
  const t = s.charCodeAt(10);
  if (t !== UPPER_T && t !== LOWER_T && t !== SPACE) return false;
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  if (hour < 0 || hour > 23 || s.charCodeAt(13) !== COLON || minute < 0 || minute > 59)
    return false;
  let p = 16;
  let second = 0;
  if (s.charCodeAt(p) === COLON) {
    second = digits(s, p + 1, 2);
    if (second < 0 || second > 59) return false;
    p += 3;
  }
  let millis = '000';
  const mark = s.charCodeAt(p);
  if (mark === DOT || mark === COMMA) {
    const from = ++p;
    while (p < n && s.charCodeAt(p) - ZERO >= 0 && s.charCodeAt(p) - ZERO <= 9) p++;
    const count = p - from;
    if (count === 0) return false;
    // Sub-millisecond digits are dropped (truncated, like Date does).
    millis = count >= 3 ? s.slice(from, from + 3) : (s.slice(from, p) + '00').slice(0, 3);
  }
  let offset = 0;
  if (p < n && s.charCodeAt(p) === SPACE) p++;
  if (p < n) {
    const z = s.charCodeAt(p);
    if (z === UPPER_Z || z === LOWER_Z) {
      p++;
    } else if (z === PLUS || z === MINUS) {
      const hours = digits(s, p + 1, 2);
      if (hours < 0 || hours > 23) return false;
      p += 3;
      let minutes = 0;
      if (p < n) {
        if (s.charCodeAt(p) === COLON) p++;
        minutes = digits(s, p, 2);
        if (minutes < 0 || minutes > 59) return false;
        p += 2;
      }
      offset = (z === MINUS ? -1 : 1) * (hours * 60 + minutes);
    } else if (n - p === 3 && s.slice(p).toUpperCase() === 'UTC') {
      p += 3;
    } else {
      return false;
    }
  }
  if (p !== n) return false;
  scanned.hour = hour;
  scanned.minute = minute;
  scanned.second = second;
  scanned.millis = millis;
  scanned.offset = offset;
  scanned.hasTime = true;
  return true;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function pad4(n: number): string {
  return n >= 1000 ? String(n) : String(n).padStart(4, '0');
}

/**
 * A calendar day `YYYY-MM-DD`: `2026-11-03`, `2026/11/03`, or a date-time whose written date is
 * taken as is (`2026-11-03T00:00:00.000+00:00` -> `2026-11-03`): a daily bucket is labelled with
 * its own day, which shifting to UTC could move.
 */
export function parseDay(raw: string, column: string): string {
  const s = trimmed(raw);
  if (!scanDateTime(s)) throw invalid(column, 'a date (YYYY-MM-DD)');
  if (s.length === 10 && s.charCodeAt(4) === MINUS) return s;
  return `${pad4(scanned.year)}-${pad2(scanned.month)}-${pad2(scanned.day)}`;
}

const MAX_UNIX_MILLIS = 8.64e15;

/**
 * An instant as ISO 8601 UTC with milliseconds (`2026-11-03T13:01:01.000Z`); `''` and `'-'` are
 * null. Accepts ISO/space date-times with an optional zone (none means UTC), fractional seconds,
 * ` UTC` and `+00`-style zones, and unix time in seconds (10 digits) or milliseconds (13 digits).
 */
export function parseTimestamp(raw: string, column: string): string | null {
  const s = trimmed(raw);
  const n = s.length;
  if (n === 0 || (n === 1 && s.charCodeAt(0) === MINUS)) return null;
  if (n === 10 || n === 13) {
    const epoch = unixDigits(s);
    if (epoch >= 0) return isoFromMillis(n === 10 ? epoch * 1000 : epoch);
  }
  if (!scanDateTime(s) || !scanned.hasTime) throw invalid(column, 'a timestamp');
  if (scanned.offset === 0) {
    // The common case: the fields are already UTC, so just lay them out.
    const date =
      s.charCodeAt(4) === MINUS
        ? s.slice(0, 10)
        : `${s.slice(0, 4)}-${s.slice(5, 7)}-${s.slice(8, 10)}`;
    return `${date}T${s.slice(11, 16)}:${pad2(scanned.second)}.${scanned.millis}Z`;
  }
  const ms = utcMillis() - scanned.offset * 60_000;
  if (!(Math.abs(ms) <= MAX_UNIX_MILLIS)) throw invalid(column, 'a timestamp');
  return isoFromMillis(ms);
}

/** The scanned fields as epoch milliseconds, reading them as UTC. */
function utcMillis(): number {
  const days = daysFromCivil(scanned.year, scanned.month, scanned.day);
  return (
    ((days * 24 + scanned.hour) * 60 + scanned.minute) * 60_000 +
    scanned.second * 1000 +
    +scanned.millis
  );
}

/*
 * Calendar arithmetic on the proleptic Gregorian calendar, counted in 400-year eras of 146097
 * days with years starting on March 1st (so the leap day is last). Hand-written because
 * Date.UTC + toISOString cost ~0.6 µs per value, several times the rest of the parse.
 */

/** Days from 1970-01-01 to the given date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const shiftedMonth = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * shiftedMonth + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, like Date#toISOString. */
function isoFromMillis(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36524) -
      Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  // Outside 4-digit years toISOString's extended format (+YYYYYY) is the standard answer.
  if (year < 0 || year > 9999) return new Date(ms).toISOString();
  let rest = ms - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  const millis = milli < 10 ? '00' + milli : milli < 100 ? '0' + milli : String(milli);
  return `${pad4(year)}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${millis}Z`;
}

/** All-digit string as a number, or -1. */
function unixDigits(s: string): number {
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
