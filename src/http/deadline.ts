import { deadlineError } from './network';

/** The whole of one try of an API call; a download's until its headers. */
export const DEFAULT_DEADLINE_MS = 5 * 60_000;

/** The signal that aborts when any of `signals` does. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}

/**
 * Runs `work` with a signal that also aborts after `deadlineMs`; when the deadline (not
 * `signal`) cut it short, it fails with the deadline's error.
 */
export async function withinDeadline<T>(
  deadlineMs: number,
  signal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), deadlineMs);
  try {
    return await work(anySignal(signal, deadline.signal)!);
  } catch (err) {
    if (deadline.signal.aborted && !signal?.aborted) throw deadlineError(deadlineMs);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
