import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient, type HttpRequest } from '../../src/http/client';
import { addressKind, urlPolicyFor } from '../../src/http/urls';
import { failure, redirect, ScriptedServer, status, TEST_TLS } from '../support/scripted-server';
import { scaledClock } from '../../src/util/clock';

/** Every wait of these tests takes a hundredth of its real length. */
const FAST = scaledClock(0.01);

const SECRET = 'sekret-123456';

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
  /** A client whose API is a public https host: no loopback; it trusts the test certificate. */
  const vendorClient = () =>
    new HttpClient(new MemoryLogger(), {
      clock: FAST,
      urlPolicy: urlPolicyFor('https://api.vendor.example'),
      ca: TEST_TLS.cert,
      retry: { baseDelayMs: 100 },
    });
  const download = (url: string): HttpRequest => ({
    method: 'GET',
    url,
    what: 'test download',
    credentials: false,
    responseType: 'stream',
  });

  it('checks every request URL before sending it', async () => {
    api.reset();
    const e = await failure(
      vendorClient().request({
        method: 'GET',
        url: `${api.url}/file?signature=abc`,
        what: 'test download',
      }),
    );
    assert.equal(e.failureType, 'system_error');
    assert.match(
      e.message,
      /^test download: the URL http:\/\/127\.0\.0\.1:\d+\/file\?signature=… is refused: plain http is not allowed, only https\.$/,
    );
    assert.equal(api.seen.length, 0, 'nothing was sent');
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
