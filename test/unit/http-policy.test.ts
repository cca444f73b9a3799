import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient, type HttpRequest } from '../../src/http/client';
import { addressKind, type Resolve, UrlPolicy, urlPolicyFor } from '../../src/http/urls';
import { failure, redirect, ScriptedServer, status, TEST_TLS } from '../support/scripted-server';
import { scaledClock } from '../../src/util/clock';
import { installNetGuard, refusals } from '../support/net-guard';

/** Every wait of these tests takes a hundredth of its real length. */
const FAST = scaledClock(0.01);

const SECRET = 'sekret-123456';

const download = (url: string): HttpRequest => ({
  method: 'GET',
  url,
  what: 'test download',
  credentials: false,
  responseType: 'stream',
});

describe('UrlPolicy', () => {
  const loopback = urlPolicyFor('http://127.0.0.1:8080');
  const vendor = urlPolicyFor('https://api.onesignal.com');
  const problem = (policy = vendor, url: string) => policy.requestProblem(new URL(url));

  it('allows https; http only to a loopback host when the api_url is one', () => {
    assert.equal(loopback.allowLoopback, true);
    assert.equal(vendor.allowLoopback, false);
    for (const url of [
      'http://127.0.0.1:1/x',
      'http://localhost/x',
      'http://[::1]:9/',
      'http://127.9.8.7/',
    ])
      assert.equal(problem(loopback, url), undefined, url);
    assert.match(problem(loopback, 'http://files.example.com/x')!, /only to a loopback host/);
    assert.match(problem(vendor, 'http://127.0.0.1/x')!, /plain http is not allowed, only https/);
    assert.match(problem(vendor, 'ftp://files.example.com/x')!, /only https URLs/);
    assert.equal(problem(vendor, 'https://s3.amazonaws.com/x'), undefined);
    assert.ok(vendor.isApiOrigin(new URL('https://api.onesignal.com/notifications')));
    assert.ok(!vendor.isApiOrigin(new URL('http://api.onesignal.com/notifications')));
  });

  it('knows loopback, private, CGNAT, link-local and unspecified addresses, v4 and v6', () => {
    const kinds: [string, string | undefined][] = [
      ['127.0.0.1', 'a loopback address'],
      ['::1', 'a loopback address'],
      ['10.1.2.3', 'a private address'],
      ['172.16.0.1', 'a private address'],
      ['172.31.255.255', 'a private address'],
      ['172.32.0.1', undefined],
      ['192.168.1.1', 'a private address'],
      ['fd12:3456::1', 'a private address'],
      ['100.64.0.1', 'a shared (CGNAT) address'],
      ['100.128.0.1', undefined],
      ['169.254.169.254', 'a link-local address'],
      ['fe80::1', 'a link-local address'],
      ['0.0.0.0', 'an unspecified address'],
      ['::', 'an unspecified address'],
      ['::ffff:169.254.169.254', 'a link-local address'],
      ['::ffff:a9fe:a9fe', 'a link-local address'],
      ['8.8.8.8', undefined],
      ['2606:4700::1111', undefined],
    ];
    for (const [ip, kind] of kinds) assert.equal(addressKind(ip), kind, ip);
  });

  it('refuses redirects that downgrade or lead to internal addresses', () => {
    const from = new URL('https://files.example.com/a');
    const redirectProblem = (policy: typeof vendor, to: string, source = from) =>
      policy.redirectProblem(source, new URL(to));
    assert.match(redirectProblem(vendor, 'http://files.example.com/b')!, /downgrade https to http/);
    assert.equal(redirectProblem(vendor, 'https://cdn.example.net/b'), undefined);
    assert.match(
      redirectProblem(vendor, 'https://169.254.169.254/latest/meta-data/')!,
      /169\.254\.169\.254 is a link-local address/,
    );
    // The WHATWG parser turns these spellings into the addresses they are.
    assert.match(redirectProblem(vendor, 'https://0xa9fea9fe/')!, /link-local/);
    assert.match(redirectProblem(vendor, 'https://[::ffff:10.0.0.1]/')!, /private/);
    assert.match(redirectProblem(vendor, 'https://127.0.0.1:4000/')!, /127\.0\.0\.1 is a loopback/);
    // A loopback API allows loopback, and still nothing else internal.
    const local = new URL('http://127.0.0.1:1/a');
    assert.equal(redirectProblem(loopback, 'http://127.0.0.1:2/b', local), undefined);
    assert.match(
      redirectProblem(loopback, 'http://169.254.169.254/latest/meta-data/', local)!,
      /link-local/,
    );
    assert.match(redirectProblem(loopback, 'http://10.0.0.8/', local)!, /private/);
  });
});

describe('HttpClient redirects', () => {
  const api = new ScriptedServer();
  const other = new ScriptedServer();
  const secure = new ScriptedServer(true);
  before(async () => {
    await Promise.all([api.start(), other.start(), secure.start()]);
  });
  after(async () => {
    await Promise.all([api.close(), other.close(), secure.close()]);
  });
  /** A client of a loopback API (as the emulator is), with a credential for it. */
  const loopbackClient = () =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      credential: { origin: api.url, headers: { 'X-Secret-Token': SECRET } },
      urlPolicy: urlPolicyFor(api.url),
      retry: { baseDelayMs: 100 },
    });
  /**
   * A client whose API is not on a loopback host, yet is the `secure` test server (as a proxy
   * could be): no loopback for vendor URLs; it trusts the test certificate.
   */
  const vendorClient = () =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      urlPolicy: new UrlPolicy(new URL(secure.url).origin, false, false),
      ca: TEST_TLS.cert,
      retry: { baseDelayMs: 100 },
    });

  it('checks every request URL before sending it', async () => {
    const e = await failure(
      vendorClient().request({
        method: 'GET',
        url: `http://files.vendor.example/file?signature=abc`,
        what: 'test status',
      }),
    );
    assert.equal(e.failureType, 'system_error');
    assert.equal(
      e.message,
      'test status: the URL http://files.vendor.example/file?signature=… is refused: plain http is not allowed, only https.',
    );
  });

  it('follows each redirect status within loopback, never with credentials, even to the same origin', async () => {
    for (const code of [301, 302, 303, 307, 308]) {
      api.reset(redirect(`/next?code=${code}`, code), status(200, {}, '{"hop":2}'));
      const res = await loopbackClient().request<{ hop: number }>({
        method: 'GET',
        url: `${api.url}/first`,
        what: 'api call',
        headers: { Authorization: 'Bearer other-secret', 'X-Api-Key': 'k-1', Accept: 'text/csv' },
      });
      assert.deepEqual(res.data, { hop: 2 }, `HTTP ${code}`);
      assert.equal(res.url, `${api.url}/next?code=${code}`);
      const [first, second] = api.seen;
      assert.equal(first.headers['x-secret-token'], SECRET, 'the first hop has the credential');
      assert.equal(second.url, `/next?code=${code}`);
      for (const h of ['x-secret-token', 'authorization', 'x-api-key'])
        assert.equal(second.headers[h], undefined, `${h} after HTTP ${code}`);
      assert.equal(second.headers.accept, 'text/csv', 'other headers are kept');
    }
  });

  it('does not redirect a POST (its body may carry a secret)', async () => {
    api.reset(redirect(`${other.url}/elsewhere`, 307));
    other.reset();
    const res = await loopbackClient().request({
      method: 'POST',
      url: `${api.url}/call`,
      what: 'api call',
      data: JSON.stringify({ auth: SECRET }),
    });
    assert.equal(res.status, 307);
    assert.equal(other.seen.length, 0);
  });

  it('refuses a redirect to the cloud metadata address, even for a loopback API, at once', async () => {
    api.reset(redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/'));
    const e = await failure(loopbackClient().request(download(`${api.url}/file`)));
    assert.equal(e.failureType, 'system_error');
    assert.equal(
      e.message,
      'test download: the redirect to http://169.254.169.254/latest/meta-data/iam/security-credentials/ is refused: 169.254.169.254 is a link-local address.',
    );
    assert.equal(api.seen.length, 1, 'not retried');
  });

  it('refuses redirects to private, CGNAT, unspecified and IPv6 internal addresses', async () => {
    const targets: [string, RegExp][] = [
      ['http://10.0.0.1/', /10\.0\.0\.1 is a private address/],
      ['http://172.16.5.4/', /172\.16\.5\.4 is a private address/],
      ['http://192.168.0.1/', /192\.168\.0\.1 is a private address/],
      ['http://100.64.0.1/', /100\.64\.0\.1 is a shared \(CGNAT\) address/],
      ['http://0.0.0.0:80/', /0\.0\.0\.0 is an unspecified address/],
      ['http://[fe80::1]/', /fe80::1 is a link-local address/],
      ['http://[fd00::1]/', /fd00::1 is a private address/],
      ['http://[::ffff:10.0.0.1]/', /::ffff:a00:1 is a private address/],
    ];
    for (const [target, pattern] of targets) {
      api.reset(redirect(target));
      const e = await failure(loopbackClient().request(download(`${api.url}/file`)));
      assert.match(e.message, pattern, target);
    }
  });

  it('refuses an https to http downgrade', async () => {
    secure.reset(redirect(`${other.url}/plain`));
    other.reset();
    const e = await failure(vendorClient().request(download(`${secure.url}/file`)));
    assert.match(
      e.message,
      /the redirect to http:\/\/127\.0\.0\.1:\d+\/plain is refused: it would downgrade https to http\./,
    );
    assert.equal(other.seen.length, 0);
  });

  it('refuses a loopback target when the API is not on loopback', async () => {
    secure.reset(redirect(`${secure.url}/again`));
    const e = await failure(vendorClient().request(download(`${secure.url}/file`)));
    assert.match(e.message, /is refused: 127\.0\.0\.1 is a loopback address\./);
    assert.equal(secure.seen.length, 1);
  });

  it('checks what a redirect host resolves to, at connect time (localhost is loopback)', async () => {
    secure.reset(redirect(`https://localhost:${secure.port}/resolved`));
    const e = await failure(vendorClient().request(download(`${secure.url}/file`)));
    assert.equal(e.failureType, 'system_error');
    assert.match(
      e.message,
      /the redirect to https:\/\/localhost:\d+\/resolved is refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address\./,
    );
    assert.equal(secure.seen.length, 1, 'the hop never reached the server');
  });

  it('gives up after 5 redirects', async () => {
    api.reset(...Array.from({ length: 7 }, (_, i) => redirect(`/hop${i + 1}`)));
    const e = await failure(loopbackClient().request(download(`${api.url}/hop0`)));
    assert.equal(e.failureType, 'system_error');
    assert.match(e.message, /^test download: gave up after 5 redirects in a row\.$/);
    assert.equal(api.seen.length, 6, 'the request and 5 hops');
  });

  it("describes a download's failure by its status only, never by its body", async () => {
    const leak = '<Error><Code>AccessDenied</Code><Data>row-1,secret-ish</Data></Error>';
    api.reset(status(403, { 'content-type': 'application/xml' }, leak));
    const res = await loopbackClient().request<Readable>(download(`${api.url}/file`));
    assert.equal(res.status, 403);
    assert.equal(await text(res.data), '', 'a stream download loses its error body');
    api.reset(status(404, {}, leak));
    const plain = await loopbackClient().request({
      ...download(`${api.url}/file`),
      responseType: 'text',
    });
    assert.equal(plain.data, '');
    api.reset(status(200, {}, 'id,secret-row'));
    const e = await failure(
      loopbackClient().request({ ...download(`${api.url}/f`), responseType: 'json' }),
    );
    assert.equal(e.message, 'test download answered HTTP 200 with a body that is not JSON.');
    // An API's own error body is the vendor's message, and stays.
    api.reset(status(400, {}, '{"errors":["bad app id"]}'));
    const apiRes = await loopbackClient().request({
      method: 'GET',
      url: `${api.url}/x`,
      what: 'api call',
    });
    assert.deepEqual(apiRes.data, { errors: ['bad app id'] });
  });
});

describe('HttpClient vendor URLs on their first request', () => {
  const api = new ScriptedServer();
  const secure = new ScriptedServer(true);
  /** TCP connections the https server accepted. */
  let connections = 0;
  before(async () => {
    installNetGuard();
    secure.server.on('connection', () => connections++);
    await Promise.all([api.start(), secure.start()]);
  });
  after(async () => {
    await Promise.all([api.close(), secure.close()]);
    assert.deepEqual(refusals, [], 'no socket of these tests tried to leave loopback');
  });
  const client = (policy: UrlPolicy) =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      urlPolicy: policy,
      ca: TEST_TLS.cert,
      retry: { baseDelayMs: 100, maxAttempts: 2 },
    });
  /** A public API: its vendor's URLs may not reach loopback. */
  const publicApi = () => urlPolicyFor('https://api.vendor.example');
  const call = (url: string): HttpRequest => ({ method: 'GET', url, what: 'test status' });

  it('a loopback URL is refused before any connection when the API is not on loopback', async () => {
    connections = 0;
    secure.reset();
    const byIp = await failure(client(publicApi()).request(download(`${secure.url}/file?sig=1`)));
    assert.equal(byIp.failureType, 'system_error');
    assert.equal(
      byIp.message,
      `test download: the file URL ${secure.url}/file?sig=… is refused: 127.0.0.1 is a loopback address.`,
    );
    // By name: checked on what DNS resolves, in the socket's lookup, before it connects.
    const byName = await failure(
      client(publicApi()).request(call(`https://localhost:${secure.port}/status`)),
    );
    assert.match(
      byName.message,
      /^test status: the URL https:\/\/localhost:\d+\/status is refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address\.$/,
    );
    assert.equal(connections, 0, 'no connection was made');
    assert.equal(secure.seen.length, 0);
    // The same URL, for an API on loopback (the emulator's case), is fetched.
    const res = await client(urlPolicyFor('https://127.0.0.1:1')).request<Readable>(
      download(`${secure.url}/file`),
    );
    assert.equal(await text(res.data), '{"ok":true}');
    assert.equal(connections, 1);
  });

  it('a vendor URL whose name resolves to loopback is refused; the API origin itself is not checked', async () => {
    connections = 0;
    secure.reset();
    // Every name resolves to 127.0.0.1, as a hostile DNS answer would.
    const toLoopback: Resolve = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const policy = new UrlPolicy(secure.url, false, false, toLoopback);
    const e = await failure(
      client(policy).request(download(`https://files.vendor.example:${secure.port}/f`)),
    );
    assert.match(
      e.message,
      /files\.vendor\.example resolves to 127\.0\.0\.1, a loopback address\.$/,
    );
    assert.equal(connections, 0);
    const res = await client(policy).request(call(`${secure.url}/api-call`));
    assert.deepEqual(res.data, { ok: true }, 'the configured API origin is the user’s choice');
  });

  it('internal addresses by IP literal are refused before any request, also for a loopback API', async () => {
    const loopbackApi = client(urlPolicyFor(api.url));
    const targets: [string, string][] = [
      ['https://10.0.0.1/x', '10.0.0.1 is a private address'],
      ['https://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address'],
      ['https://100.64.1.1/x', '100.64.1.1 is a shared (CGNAT) address'],
      ['https://[fe80::1]/x', 'fe80::1 is a link-local address'],
      ['https://0.0.0.0/x', '0.0.0.0 is an unspecified address'],
    ];
    for (const [url, problem] of targets) {
      for (const req of [download(url), call(url)]) {
        const e = await failure(loopbackApi.request(req));
        assert.equal(e.failureType, 'system_error');
        assert.ok(e.message.endsWith(` is refused: ${problem}.`), e.message);
      }
    }
  });

  it('the lookup refuses a name if any address it resolves to is internal', async () => {
    const answers: Record<string, string[]> = {
      'intranet.example': ['10.0.0.7'],
      'metadata.example': ['169.254.169.254'],
      'cgnat.example': ['100.64.0.1'],
      'mixed.example': ['93.184.216.34', '10.0.0.1'],
      'v6.example': ['fd12::1'],
      'public.example': ['93.184.216.34', '2606:4700::1111'],
    };
    const fake: Resolve = (host, _o, cb) =>
      cb(
        null,
        answers[host].map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    const policy = new UrlPolicy('https://api.vendor.example', false, false, fake);
    const lookup = (host: string, all: boolean) =>
      new Promise<unknown>((resolve, reject) =>
        policy.lookup(host, { all }, (err, address) => (err ? reject(err) : resolve(address))),
      );
    for (const [host, kind] of [
      ['intranet.example', '10.0.0.7, a private address'],
      ['metadata.example', '169.254.169.254, a link-local address'],
      ['cgnat.example', '100.64.0.1, a shared (CGNAT) address'],
      ['mixed.example', '10.0.0.1, a private address'],
      ['v6.example', 'fd12::1, a private address'],
    ]) {
      await assert.rejects(lookup(host, true), {
        code: 'ERR_URL_POLICY',
        message: `${host} resolves to ${kind}`,
      });
      await assert.rejects(lookup(host, false), { code: 'ERR_URL_POLICY' });
    }
    assert.equal(await lookup('public.example', false), '93.184.216.34');
    assert.deepEqual(await lookup('public.example', true), [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
  });

  it("a vendor's http file link is upgraded to https, never the other way; an http API call is refused", async () => {
    // An https API on loopback: its http link to a host that speaks only https is fetched.
    secure.reset(status(200, {}, 'zip-bytes'));
    const c = client(urlPolicyFor('https://127.0.0.1:1'));
    const res = await c.request<Readable>(download(`http://127.0.0.1:${secure.port}/f.zip?sig=2`));
    assert.equal(res.status, 200);
    assert.equal(res.url, `${secure.url}/f.zip?sig=2`);
    assert.equal(await text(res.data), 'zip-bytes');
    const https = urlPolicyFor('https://api.vendor.example');
    const upgraded = (url: string) => https.upgraded(new URL(url)).href;
    assert.equal(
      upgraded('http://files.example.com:8080/x?sig=1'),
      'https://files.example.com:8080/x?sig=1',
    );
    assert.equal(upgraded('http://files.example.com:80/x'), 'https://files.example.com/x');
    assert.equal(upgraded('https://files.example.com/x'), 'https://files.example.com/x');
    assert.equal(upgraded('ftp://files.example.com/x'), 'ftp://files.example.com/x');
    // A loopback http API (the plain emulator) keeps loopback http links as they are.
    assert.equal(
      urlPolicyFor(api.url).upgraded(new URL('http://127.0.0.1:9/x')).href,
      'http://127.0.0.1:9/x',
    );
    const e = await failure(c.request(call(`http://127.0.0.1:${secure.port}/status`)));
    assert.match(
      e.message,
      /the URL http:\/\/127\.0\.0\.1:\d+\/status is refused: plain http is not allowed, only https\.$/,
    );
  });
});
