import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectorError } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient, retryAfterMs } from '../../src/http/client';
import { RateLimiter } from '../../src/http/rate-limiter';
import { safeUrl } from '../../src/http/urls';
import { scaledClock } from '../../src/util/clock';
import { reset, ScriptedServer, status } from '../support/scripted-server';

/** Every wait of these tests takes a hundredth of its real length. */
const FAST = scaledClock(0.01);

describe('HttpClient', () => {
  const api = new ScriptedServer();
  const other = new ScriptedServer();
  before(async () => {
    await api.start();
    await other.start();
  });
  after(async () => {
    await api.close();
    await other.close();
  });
  const client = (retry = {}) =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      credential: { origin: api.url, headers: { 'X-Secret-Token': 'sekret-123456' } },
      retry: { baseDelayMs: 100, ...retry },
    });

  it('retries 429 honouring Retry-After, then 5xx bursts and connection resets', async () => {
    api.reset(
      status(429, { 'Retry-After': '3' }),
      status(503),
      status(502),
      reset,
      status(200, {}, '{"v":1}'),
    );
    const res = await client().request<{ v: number }>({
      method: 'GET',
      url: `${api.url}/x`,
      what: 'test call',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.data, { v: 1 });
    assert.equal(api.seen.length, 5);
    // Retry-After 3 s at time scale 0.01 is 30 ms.
    assert.ok(
      api.seen[1].at - api.seen[0].at >= 28,
      `waited ${api.seen[1].at - api.seen[0].at} ms`,
    );
  });
  it('returns other statuses to the caller without retrying', async () => {
    api.reset(status(401, {}, '{"reason":"bad token"}'));
    const res = await client().request({ method: 'GET', url: `${api.url}/x`, what: 'test call' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.data, { reason: 'bad token' });
    assert.equal(api.seen.length, 1);
  });
  it('gives up with a transient_error after the attempt cap', async () => {
    api.reset(status(500), status(500), status(500));
    await assert.rejects(
      client({ maxAttempts: 3 }).request({ method: 'GET', url: `${api.url}/x`, what: 'test call' }),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'transient_error' &&
        /test call failed: HTTP 500 after 3 attempt/.test(e.message),
    );
    assert.equal(api.seen.length, 3);
  });
  it('caps the total retry time', async () => {
    api.reset(status(429, { 'Retry-After': '100' }));
    await assert.rejects(
      client({ maxTotalWaitMs: 5000 }).request({
        method: 'GET',
        url: `${api.url}/x`,
        what: 'test call',
      }),
      /rate limited \(HTTP 429\) after 1 attempt/,
    );
    assert.equal(api.seen.length, 1);
  });
  it('sends the credential only to its own origin, never to downloads', async () => {
    api.reset();
    other.reset();
    const c = client();
    await c.request({ method: 'GET', url: `${api.url}/a`, what: 'api call' });
    await c.request({
      method: 'GET',
      url: `${api.url}/file?signature=abc`,
      what: 'download',
      credentials: false,
      responseType: 'text',
    });
    await c.request({ method: 'GET', url: `${other.url}/b`, what: 'other host' });
    assert.equal(api.seen[0].headers['x-secret-token'], 'sekret-123456');
    assert.equal(api.seen[1].headers['x-secret-token'], undefined);
    assert.equal(other.seen[0].headers['x-secret-token'], undefined);
  });
  it('a vendor host rule (alsoFor) applies to https only', async () => {
    other.reset();
    const c = new HttpClient(new MemoryLogger(), {
      clock: FAST,
      credential: {
        origin: api.url,
        headers: { 'X-Secret-Token': 'sekret-123456' },
        alsoFor: () => true,
      },
    });
    await c.request({ method: 'GET', url: `${other.url}/b`, what: 'other host over http' });
    assert.equal(other.seen[0].headers['x-secret-token'], undefined);
  });
  it('does not follow a redirect with the credential', async () => {
    api.reset(status(302, { Location: `${other.url}/stolen` }));
    other.reset();
    const res = await client().request({ method: 'GET', url: `${api.url}/a`, what: 'api call' });
    assert.equal(res.status, 302);
    assert.equal(other.seen.length, 0);
  });
  it('reports a 2xx body that is not JSON', async () => {
    api.reset(status(200, {}, '<html>oops</html>'));
    await assert.rejects(
      client().request({ method: 'GET', url: `${api.url}/a`, what: 'api call' }),
      /api call answered HTTP 200 with a body that is not JSON: <html>oops<\/html>/,
    );
  });
});

describe('URL and Retry-After helpers', () => {
  it('hides query values in logged URLs', () => {
    assert.equal(
      safeUrl('https://h.example/p/data.csv?expires=1&signature=abc'),
      'https://h.example/p/data.csv?expires=…&signature=…',
    );
    assert.equal(safeUrl('https://h.example/p'), 'https://h.example/p');
  });
  it('reads seconds and HTTP dates', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(
      retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
      10_000,
    );
    assert.equal(retryAfterMs('soon'), undefined);
  });
});

describe('RateLimiter', () => {
  it('spaces calls at least the interval apart (in scaled time)', async () => {
    const limiter = new RateLimiter(5000, FAST); // 50 ms at time scale 0.01
    const at: number[] = [];
    for (let i = 0; i < 4; i++) {
      await limiter.wait();
      at.push(Date.now());
    }
    for (let i = 1; i < at.length; i++)
      assert.ok(at[i] - at[i - 1] >= 19, `gap ${at[i] - at[i - 1]} ms`);
  });
});
