/** The retry decisions and waits of src/http/retry.ts, alone: no server, no clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_RETRY,
  retriesExhausted,
  retryAfterMs,
  retryDecision,
  retryDelay,
} from '../../src/http/retry';

const netError = (code: string) => Object.assign(new Error(code), { code });

describe('retry decision table', () => {
  const rows: [
    string,
    Parameters<typeof retryDecision>[0],
    Parameters<typeof retryDecision>[1],
    string,
  ][] = [
    ['200', {}, { status: 200, body: '' }, 'return'],
    ['404', {}, { status: 404, body: '' }, 'return'],
    ['429', {}, { status: 429, body: '' }, 'retry'],
    ['503', {}, { status: 503, body: '' }, 'retry'],
    [
      '429 of an unsafe request (refused, so not acted on)',
      { unsafeToRepeat: true },
      { status: 429, body: '' },
      'retry',
    ],
    ['500 of an unsafe request', { unsafeToRepeat: true }, { status: 500, body: '' }, 'return'],
    [
      '429 the caller reads',
      { isFinal: (_s, body) => body === 'running' },
      { status: 429, body: 'running' },
      'return',
    ],
    [
      '429 the caller does not read',
      { isFinal: (_s, body) => body === 'running' },
      { status: 429, body: 'busy' },
      'retry',
    ],
    ['reset', {}, { networkError: netError('ECONNRESET') }, 'retry'],
    [
      'reset of an unsafe request',
      { unsafeToRepeat: true },
      { networkError: netError('ECONNRESET') },
      'maybe-received',
    ],
    [
      'refused connection of an unsafe request (never sent)',
      { unsafeToRepeat: true },
      { networkError: netError('ECONNREFUSED') },
      'retry',
    ],
  ];
  for (const [name, req, outcome, expected] of rows) {
    it(`${name}: ${expected}`, () => assert.equal(retryDecision(req, outcome), expected));
  }

  it('asks isFinal only about an answer that would be retried', () => {
    const asked: number[] = [];
    const isFinal = (status: number) => (asked.push(status), false);
    for (const status of [200, 404, 429, 502]) retryDecision({ isFinal }, { status, body: '' });
    retryDecision({ isFinal, unsafeToRepeat: true }, { status: 503, body: '' });
    assert.deepEqual(asked, [429, 502]);
  });
});

describe('retry waits', () => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 8000 };

  it('doubles from the base up to the cap, jittered into its upper half', () => {
    assert.equal(
      retryDelay(policy, 1, undefined, () => 0),
      500,
    );
    assert.equal(
      retryDelay(policy, 1, undefined, () => 1),
      1000,
    );
    assert.equal(
      retryDelay(policy, 3, undefined, () => 1),
      4000,
    );
    assert.equal(
      retryDelay(policy, 10, undefined, () => 1),
      8000,
    );
  });

  it('waits at least Retry-After, never less than the backoff', () => {
    assert.equal(
      retryDelay(policy, 1, '30', () => 1),
      30_000,
    );
    assert.equal(
      retryDelay(policy, 3, '1', () => 1),
      4000,
    );
  });

  it('Retry-After: delta-seconds, an HTTP date, or nothing usable', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    assert.equal(retryAfterMs('2.5', now), 2500);
    assert.equal(retryAfterMs(' 7 ', now), 7000);
    assert.equal(retryAfterMs('Mon, 07 Dec 2026 10:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Mon, 07 Dec 2026 09:00:00 GMT', now), 0);
    for (const v of [undefined, null, '', 'soon']) assert.equal(retryAfterMs(v, now), undefined);
  });

  it('is exhausted at the last attempt or past the total wait', () => {
    const p = { ...policy, maxAttempts: 3, maxTotalWaitMs: 10_000 };
    assert.equal(retriesExhausted(p, 2, 0, 1000), false);
    assert.equal(retriesExhausted(p, 3, 0, 1000), true);
    assert.equal(retriesExhausted(p, 1, 9000, 1000), false);
    assert.equal(retriesExhausted(p, 1, 9000, 1001), true);
  });
});
