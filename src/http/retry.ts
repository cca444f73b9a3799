import { errorCode } from './network';
import type { HttpRequest } from './request';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Cap on the sum of all waits for one request; past it the request fails as transient. */
  maxTotalWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxTotalWaitMs: 10 * 60_000,
};

/** Network errors that prove a request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** How one try ended: an answer (its status and body text), or a network error. */
export type TryOutcome = { status: number; body: string } | { networkError: Error };

/**
 * After one try: `return` the answer to the caller, `retry`, or fail as `maybe-received` (an
 * unsafe request that may have reached the vendor; see HttpRequest.unsafeToRepeat).
 */
export type RetryDecision = 'return' | 'retry' | 'maybe-received';

/** The decision table: 429, 5xx and network errors are retried, unless the request says not. */
export function retryDecision(
  req: Pick<HttpRequest, 'unsafeToRepeat' | 'isFinal'>,
  outcome: TryOutcome,
): RetryDecision {
  if ('networkError' in outcome) {
    const notSent = NOT_SENT.has(errorCode(outcome.networkError) ?? '');
    return req.unsafeToRepeat && !notSent ? 'maybe-received' : 'retry';
  }
  const { status, body } = outcome;
  const retryable =
    (status === 429 || status >= 500) &&
    !(req.unsafeToRepeat && status >= 500) &&
    !req.isFinal?.(status, body);
  return retryable ? 'retry' : 'return';
}

/**
 * The wait before the retry after try `attempt` (1-based): exponential backoff with jitter, and
 * at least the answer's Retry-After.
 */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfter: unknown,
  random: () => number = Math.random,
): number {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = backoff / 2 + (random() * backoff) / 2;
  const after = retryAfterMs(retryAfter);
  return after === undefined ? jittered : Math.max(after, jittered);
}

/** Whether the retries are used up: no attempt left, or `delay` would pass the total wait. */
export function retriesExhausted(
  policy: RetryPolicy,
  attempt: number,
  waited: number,
  delay: number,
): boolean {
  return attempt >= policy.maxAttempts || waited + delay > policy.maxTotalWaitMs;
}

/** Retry-After in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}
