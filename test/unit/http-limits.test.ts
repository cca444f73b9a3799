import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setTimeout as wait } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient, type HttpClientOptions, type HttpRequest } from '../../src/http/client';
import { urlPolicyFor } from '../../src/http/urls';
import { scaledClock } from '../../src/util/clock';
import {
  failure,
  type Handler,
  ScriptedServer,
  status,
  TEST_TLS,
} from '../support/scripted-server';

/** Every wait of these tests takes a hundredth of its real length. */
const FAST = scaledClock(0.01);

/** Headers at once, then one byte every `ms` of a body `size` bytes long. */
const drip =
  (ms: number, size = 100_000): Handler =>
  (_q, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), ms);
    res.on('close', () => clearInterval(t));
  };

/** Never answers. */
const silent: Handler = () => {};

const get = (url: string, more: Partial<HttpRequest> = {}): HttpRequest => ({
  method: 'GET',
  url,
  what: 'test call',
  ...more,
});
const download = (url: string): HttpRequest =>
  get(url, { what: 'test download', credentials: false, responseType: 'stream' });

describe('HttpClient deadlines and throughput', () => {
  const api = new ScriptedServer();
  before(() => api.start());
  after(() => api.close());
  const client = (options: Partial<HttpClientOptions> = {}) =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      urlPolicy: urlPolicyFor(api.url),
      retry: { baseDelayMs: 100, maxAttempts: 2 },
      ...options,
    });

  it('an API call that is not complete within its deadline is retried, then fails as transient', async () => {
    // The body drips faster than any idle timeout, so only a total deadline can end it.
    api.reset(drip(10), silent);
    const started = Date.now();
    const e = await failure(client({ deadlineMs: 200 }).request(get(`${api.url}/x`)));
    assert.equal(e.failureType, 'transient_error');
    assert.match(
      e.message,
      /^test call failed: network error ETIMEDOUT \(no complete answer within 0\.2 s\) after 2 attempt/,
    );
    assert.equal(api.seen.length, 2);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });

  it('a per-request deadline overrides the client one', async () => {
    api.reset(silent);
    const e = await failure(
      client({ deadlineMs: 60_000, retry: { maxAttempts: 1 } }).request(
        get(`${api.url}/x`, { deadlineMs: 100 }),
      ),
    );
    assert.match(e.message, /no complete answer within 0\.1 s/);
  });

  it("a download's deadline ends with its headers: a long, steady body is fine", async () => {
    const size = 400_000;
    api.reset((_q, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      let sent = 0;
      const t = setInterval(() => {
        res.write(Buffer.alloc(20_000, 1));
        sent += 20_000;
        if (sent >= size) {
          clearInterval(t);
          res.end();
        }
      }, 20);
    });
    const c = client({ deadlineMs: 100, minThroughput: { bytes: 1000, windowMs: 100 } });
    const res = await c.request<Readable>(download(`${api.url}/file`));
    assert.equal((await buffer(res.data)).length, size, 'about 400 ms of body, past the deadline');
  });

  it('a drip-fed download is destroyed once a window brings too few bytes', async () => {
    api.reset(drip(20));
    const started = Date.now();
    const c = client({ minThroughput: { bytes: 1000, windowMs: 200 } });
    const res = await c.request<Readable>(download(`${api.url}/file`));
    await assert.rejects(
      buffer(res.data),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_DOWNLOAD_TOO_SLOW' &&
        /^the download slowed to \d+ bytes in 0\.2 s \(at least 1000 are expected\)$/.test(
          err.message,
        ),
    );
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
  });

  it('a reader that pauses is not blamed for a slow download', async () => {
    api.reset(status(200, {}, 'y'.repeat(300_000)));
    const c = client({ minThroughput: { bytes: 1000, windowMs: 50 } });
    const res = await c.request<Readable>(download(`${api.url}/file`));
    const chunks: Buffer[] = [];
    let paused = false;
    for await (const chunk of res.data) {
      chunks.push(chunk as Buffer);
      if (!paused) {
        paused = true;
        await wait(300); // six windows without reading
      }
    }
    assert.equal(Buffer.concat(chunks).length, 300_000);
  });
});

describe('HttpClient fail-fast errors and aborts', () => {
  const api = new ScriptedServer();
  const secure = new ScriptedServer(true);
  before(() => Promise.all([api.start(), secure.start()]));
  after(() => Promise.all([api.close(), secure.close()]));
  const client = (apiUrl: string, options: Partial<HttpClientOptions> = {}) => {
    const logger = new MemoryLogger();
    const c = new HttpClient(logger, {
      clock: FAST,
      urlPolicy: urlPolicyFor(apiUrl),
      apiUrlField: 'onesignal.api_url',
      retry: { baseDelayMs: 100 },
      ...options,
    });
    return { c, logger };
  };

  it('a certificate that is not valid fails at once: config_error for the API URL', async () => {
    const { c, logger } = client(secure.url);
    const e = await failure(c.request(get(`${secure.url}/notifications`)));
    assert.equal(e.failureType, 'config_error');
    assert.match(
      e.message,
      /^test call failed: the TLS certificate of 127\.0\.0\.1:\d+ is not valid \(DEPTH_ZERO_SELF_SIGNED_CERT: self[- ]signed certificate[^)]*\); it is not retried\. Check onesignal\.api_url\.$/,
    );
    assert.deepEqual(logger.lines, [], 'no retry was logged');
  });

  /** An API on another loopback origin, so that the test server may be a vendor's host. */
  const LOOPBACK_API = 'https://127.0.0.1:1';

  it('... and a system_error for a vendor-given host', async () => {
    const { c, logger } = client(LOOPBACK_API);
    const e = await failure(c.request(download(`${secure.url}/export.csv.gz?signature=s`)));
    assert.equal(e.failureType, 'system_error');
    assert.match(
      e.message,
      /^test download failed: the TLS certificate of 127\.0\.0\.1:\d+ is not valid/,
    );
    assert.doesNotMatch(e.message, /api_url/);
    assert.equal(logger.lines.length, 0);
  });

  it('a certificate for another name fails at once too', async () => {
    const { c, logger } = client(LOOPBACK_API, { ca: TEST_TLS.cert });
    const e = await failure(c.request(download(`https://localhost:${secure.port}/f`)));
    assert.match(e.message, /is not valid \(ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.equal(logger.lines.length, 0);
    // With the certificate trusted and the right name, the same server answers.
    secure.reset(status(200, {}, 'ok'));
    const res = await c.request<Readable>(download(`${secure.url}/f`));
    assert.equal((await buffer(res.data)).toString(), 'ok');
  });

  it('an unknown host fails at once: config_error for the API URL, system_error elsewhere', async () => {
    const { c, logger } = client('https://nonexistent.invalid');
    const e = await failure(c.request(get('https://nonexistent.invalid/notifications')));
    assert.equal(e.failureType, 'config_error');
    assert.equal(
      e.message,
      'test call failed: the host nonexistent.invalid is unknown to DNS (ENOTFOUND); it is not retried. Check onesignal.api_url.',
    );
    const other = await failure(c.request(download('https://files.nonexistent.invalid/x')));
    assert.equal(other.failureType, 'system_error');
    assert.match(other.message, /the host files\.nonexistent\.invalid is unknown to DNS/);
    assert.equal(logger.lines.length, 0);
  });

  it('a refused connection is still retried as transient', async () => {
    const closed = new ScriptedServer();
    await closed.start();
    const url = closed.url;
    await closed.close();
    const { c, logger } = client(url, { retry: { baseDelayMs: 100, maxAttempts: 3 } });
    const e = await failure(c.request(get(`${url}/x`)));
    assert.equal(e.failureType, 'transient_error');
    assert.match(e.message, /ECONNREFUSED.* after 3 attempt/);
    assert.equal(logger.lines.filter((l) => /; retry \d of 2/.test(l.message)).length, 2);
  });

  it('an aborted request signal ends the request at once, without retrying', async () => {
    api.reset(silent);
    const { c } = client(api.url);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const e = await failure(c.request(get(`${api.url}/x`, { signal: controller.signal })));
    assert.equal(e.failureType, 'transient_error');
    assert.equal(e.message, 'test call was cancelled.');
    assert.ok(Date.now() - started < 1000);
    assert.equal(api.seen.length, 1);
  });

  it("the client's signal cuts a retry wait short, and nothing is sent once it is aborted", async () => {
    // Retry-After 300 s is 3 s at time scale 0.01.
    api.reset(status(503, { 'retry-after': '300' }));
    const controller = new AbortController();
    const { c } = client(api.url, { signal: controller.signal });
    // Aborted once the first try was answered, during the retry wait (not before it was sent).
    const abortAfterFirst = setInterval(() => {
      if (api.seen.length === 1) {
        clearInterval(abortAfterFirst);
        setTimeout(() => controller.abort(), 50);
      }
    }, 5);
    const started = Date.now();
    const e = await failure(c.request(get(`${api.url}/x`)));
    assert.equal(e.message, 'test call was cancelled.');
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.equal(api.seen.length, 1);
    api.reset();
    await failure(c.request(get(`${api.url}/x`)));
    assert.equal(api.seen.length, 0);
  });

  it('an abort destroys a download body in flight', async () => {
    api.reset(drip(10));
    const controller = new AbortController();
    const { c } = client(api.url);
    const res = await c.request<Readable>({
      ...download(`${api.url}/file`),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(buffer(res.data));
  });
});

describe('HttpClient answer size cap', () => {
  const api = new ScriptedServer();
  before(() => api.start());
  after(() => api.close());
  const MiB = 1024 * 1024;
  /** Bytes the server wrote of its last answer. */
  let written = 0;
  /** A 200 answer of `total` bytes of a JSON array, written with backpressure. */
  const big =
    (total: number): Handler =>
    (_q, res) => {
      written = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.from('1,'.repeat(32 * 1024));
      const pump = () => {
        while (written < total) {
          const part = written === 0 ? Buffer.concat([Buffer.from('['), chunk]) : chunk;
          written += part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        res.end('1]');
      };
      pump();
    };
  const client = (options: Partial<HttpClientOptions> = {}) =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      urlPolicy: urlPolicyFor(api.url),
      retry: { baseDelayMs: 100 },
      ...options,
    });

  it('a JSON answer over the cap fails at once, naming the call and the cap; reading stops there', async () => {
    api.reset(big(64 * MiB));
    const e = await failure(client({ maxAnswerBytes: MiB }).request(get(`${api.url}/x?k=v`)));
    assert.equal(e.failureType, 'system_error');
    assert.equal(
      e.message,
      'test call: the answer is larger than 1 MiB, the most this connector reads of a JSON or text answer; it was not read further and is not retried.',
    );
    assert.equal(e.internalMessage, `GET ${api.url}/x?k=…`);
    assert.equal(api.seen.length, 1, 'not retried');
    // What the server got out before the socket closed: the cap and the sockets' buffers.
    assert.ok(written < 16 * MiB, `the server wrote ${written} bytes`);
  });

  it('the default cap is 32 MiB, for text answers too', async () => {
    api.reset(big(64 * MiB));
    const rssBefore = process.memoryUsage().rss;
    const e = await failure(client().request(get(`${api.url}/x`, { responseType: 'text' })));
    assert.match(e.message, /^test call: the answer is larger than 32 MiB, /);
    assert.ok(written < 48 * MiB, `the server wrote ${written} bytes`);
    const grown = (process.memoryUsage().rss - rssBefore) / MiB;
    assert.ok(grown < 100, `the process grew by ${grown.toFixed(0)} MiB`);
  });

  it('a download (a stream) is not held in memory, so not capped', async () => {
    api.reset(big(4 * MiB));
    const res = await client({ maxAnswerBytes: MiB }).request<Readable>(download(`${api.url}/f`));
    assert.ok((await buffer(res.data)).length > 4 * MiB);
  });
});
