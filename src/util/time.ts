/** A UTC day in milliseconds. */
export const DAY_MS = 86_400_000;

/** A calendar day as `YYYY-MM-DD` (UTC). */
export type Day = string;

export function dayOf(date: Date): Day {
  return date.toISOString().slice(0, 10);
}

export function todayUtc(now: Date = new Date()): Day {
  return dayOf(now);
}

export function addDays(day: Day, n: number): Day {
  return dayOf(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));
}

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isValidDay(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return Number.isFinite(t) && dayOf(new Date(t)) === s;
}

/** Every day from `from` to `to`, both included; empty when `from > to`. */
export function daysBetween(from: Day, to: Day): Day[] {
  const out: Day[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}
