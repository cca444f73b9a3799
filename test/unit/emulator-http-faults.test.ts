/**
 * The emulator's faults for the HTTP client (drip-fed bodies, hostile redirects, delays), driven
 * by the connector's own HttpClient against the APNs export flow.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import { Emulator, validateFault } from '../../emulator/server';
import { ConnectorError } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient, type HttpClientOptions } from '../../src/http/client';
import { TOKEN_HEADER } from '../../src/providers/apns/export';
import { urlPolicyFor } from '../../src/http/urls';
import { addDays, todayUtc } from '../../src/util/time';
import { scaledClock } from '../../src/util/clock';

/** Every wait of these tests takes a hundredth of its real length. */
const FAST = scaledClock(0.01);

const TEAM = DEFAULT_APNS_TEAM;

describe('emulator faults for the HTTP client', () => {
  let emu: Emulator;
  before(async () => {
    emu = await Emulator.start({ apns: { processingPolls: 0 } });
  });
  beforeEach(() => emu.reset());
  after(() => emu.close());

  const client = (options: Partial<HttpClientOptions> = {}) =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      credential: {
        origin: emu.apiUrl,
        headers: { [TOKEN_HEADER]: TEAM.tokens.deliverymetrics! },
      },
      urlPolicy: urlPolicyFor(emu.apiUrl),
      retry: { baseDelayMs: 100, maxAttempts: 2 },
      ...options,
    });

  /** Requests an export; with processingPolls 0 its status is SUCCESS at once. */
  async function statusUrl(): Promise<string> {
    const res = await client().request<{ statusUrl: string }>({
      method: 'POST',
      url: `${emu.apiUrl}/v1/dataExports/apns/teams/${TEAM.teamId}/appId/${TEAM.bundleId}/datasetName/deliverymetrics/request`,
      what: 'export request',
      headers: { 'Content-Type': 'application/json' },
      data: JSON.stringify({
        startDate: addDays(todayUtc(), -3),
        endDate: addDays(todayUtc(), -1),
        dataDownloadUrlExpiresInMinutes: 60,
      }),
    });
    assert.equal(res.status, 200, JSON.stringify(res.data));
    return res.data.statusUrl;
  }

  async function dataUrl(): Promise<string> {
    const res = await client().request<{ downloadDetails: { dataUrl: string } }>({
      method: 'GET',
      url: await statusUrl(),
      what: 'export status',
    });
    return res.data.downloadDetails.dataUrl;
  }

  const download = (c: HttpClient, url: string) =>
    c.request<Readable>({
      method: 'GET',
      url,
      what: 'export download',
      credentials: false,
      responseType: 'stream',
    });

  it('drip_body sends the whole body, one byte at a time', async () => {
    const url = await statusUrl();
    emu.inject({ kind: 'drip_body', route: 'apns.status', intervalMs: 2 });
    const started = Date.now();
    const res = await client().request<{ status: string }>({ method: 'GET', url, what: 'status' });
    const took = Date.now() - started;
    assert.equal(res.data.status, 'SUCCESS', 'the body is whole, and JSON');
    const size = Number(res.headers['content-length']);
    assert.ok(size > 100 && took >= size * 2, `${size} bytes in ${took} ms`);
  });

  it('drip_body on a download: the throughput watch ends it', async () => {
    const url = await dataUrl();
    emu.inject({ kind: 'drip_body', route: 'apns.download', intervalMs: 50 });
    const c = client({ minThroughput: { bytes: 100, windowMs: 200 } });
    const res = await download(c, url);
    await assert.rejects(buffer(res.data), /the download slowed to \d+ bytes in 0\.2 s/);
    assert.deepEqual(emu.pendingFaults(), []);
  });

  it('redirect to the cloud metadata address: refused, not followed, nothing quoted', async () => {
    const url = await dataUrl();
    emu.inject({
      kind: 'redirect',
      route: 'apns.download',
      location: 'http://169.254.169.254/latest/meta-data/',
    });
    await assert.rejects(
      download(client(), url),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'system_error' &&
        e.message ===
          'export download: the redirect to http://169.254.169.254/latest/meta-data/ is refused: 169.254.169.254 is a link-local address.',
    );
    const hits = emu.requests.filter((r) => r.route === 'apns.download');
    assert.deepEqual(
      hits.map((r) => r.status),
      [302],
    );
  });

  it('redirect within loopback is followed; a redirect loop ends after 5 hops', async () => {
    const url = await dataUrl();
    const relative = new URL(url).pathname + new URL(url).search;
    emu.inject({ kind: 'redirect', route: 'apns.download', location: relative, status: 307 });
    const ok = await download(client(), url);
    assert.equal(ok.status, 200);
    assert.ok((await buffer(ok.data)).toString().includes(','), 'the CSV file');
    emu.reset();
    const again = await dataUrl();
    const loop = new URL(again).pathname + new URL(again).search;
    emu.inject({ kind: 'redirect', route: 'apns.download', location: loop, times: Infinity });
    await assert.rejects(download(client(), again), /gave up after 5 redirects in a row/);
    assert.equal(emu.requests.filter((r) => r.route === 'apns.download').length, 6);
  });

  it('delay holds the whole answer back: past the deadline the call is retried', async () => {
    const url = await statusUrl();
    emu.inject({ kind: 'delay', route: 'apns.status', ms: 400 });
    const res = await client({ deadlineMs: 150 }).request({ method: 'GET', url, what: 'status' });
    assert.equal(res.status, 200, 'the second try is not delayed');
    const tries = emu.requests.filter((r) => r.route === 'apns.status');
    assert.equal(tries.length, 2);
  });

  it('delay with pathIncludes holds back only the requests whose path holds that text', async () => {
    const url = await statusUrl();
    emu.inject({ kind: 'delay', route: 'apns.status', ms: 400, pathIncludes: 'no-such-request' });
    const fast = client({ deadlineMs: 150 });
    const res = await fast.request({ method: 'GET', url, what: 'status' });
    assert.equal(res.status, 200);
    assert.equal(emu.requests.filter((r) => r.route === 'apns.status').length, 1, 'not delayed');
    assert.equal(emu.pendingFaults().length, 1, 'the fault waits for its path');
    emu.reset();
    emu.inject({ kind: 'delay', route: 'apns.status', ms: 400, pathIncludes: '/requests/' });
    await fast.request({ method: 'GET', url, what: 'status' });
    assert.equal(
      emu.requests.filter((r) => r.route === 'apns.status').length,
      2,
      'delayed, retried',
    );
  });

  it('validates the new faults strictly', () => {
    const bad: [unknown, RegExp][] = [
      [{ kind: 'drip_body' }, /drip_body needs a route/],
      [
        { kind: 'drip_body', route: '*', intervalMs: 0 },
        /intervalMs must be an integer 1\.\.60000/,
      ],
      [{ kind: 'drip_body', route: '*', intervalMs: 1.5 }, /intervalMs/],
      [{ kind: 'redirect', route: '*' }, /redirect needs a location/],
      [{ kind: 'redirect', route: '*', location: 'http://[bad' }, /redirect needs a location/],
      [
        { kind: 'redirect', route: '*', location: '/x', status: 200 },
        /redirect status must be one of/,
      ],
      [{ kind: 'delay', route: '*' }, /ms must be an integer 0\.\.600000/],
      [{ kind: 'delay', route: '*', ms: -1 }, /ms must be an integer/],
      [{ kind: 'delay', route: '*', ms: 1, pathIncludes: '' }, /pathIncludes must be a non-empty/],
    ];
    for (const [fault, pattern] of bad) assert.throws(() => validateFault(fault), pattern);
    for (const ok of [
      { kind: 'drip_body', route: 'apns.download' },
      { kind: 'redirect', route: '*', location: 'http://169.254.169.254/', status: 308 },
      { kind: 'delay', route: 'onesignal.*', ms: 0 },
    ])
      assert.doesNotThrow(() => validateFault(ok));
  });
});
