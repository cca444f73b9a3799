import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request, type Res } from '../support/http';
import {
  Emulator,
  type ApnsTeamFixture,
  type EmulatorOptions,
  type Fault,
} from '../../emulator/server';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import {
  APNS_BROADCAST_APP_HEADER,
  APNS_BROADCAST_CHANNEL_HEADER,
  APNS_DELIVERY_HEADER,
  APNS_REQUEST_VARIANTS,
  APNS_STATUS_VARIANTS,
  apnsBroadcastAppRow,
  apnsBroadcastChannelRow,
  apnsBroadcastDateCell,
  apnsDeliveryRows,
} from '../../emulator/apns';
import { daysBetween } from '../../src/util/time';

// ---------------------------------------------------------------------------------------------
// Helpers

interface StatusBody {
  requestedAt: string;
  status: string;
  downloadDetails?: { dataUrl: string; expiresAt: string };
}

function json<T = Record<string, unknown>>(res: Res): T {
  return JSON.parse(res.text) as T;
}

const T = DEFAULT_APNS_TEAM;
type Dataset = keyof ApnsTeamFixture['tokens'];
const BASE_NOW = Date.parse('2026-10-15T12:00:00Z'); // today 2026-10-15
let nowMs = BASE_NOW;
let emu: Emulator;

const tokenHeader = (token: string | null | undefined): Record<string, string> =>
  token === undefined || token === null ? {} : { 'X-Apple-CloudKit-Management-Token': token };

function requestUrl(dataset: string, team: ApnsTeamFixture = T): string {
  return (
    `${emu.apiUrl}/v1/dataExports/apns/teams/${team.teamId}/appId/${team.bundleId}` +
    `/datasetName/${dataset}/request`
  );
}

function defaultBody(dataset: Dataset): Record<string, unknown> {
  const body: Record<string, unknown> = {
    startDate: '2026-10-01',
    endDate: '2026-10-10',
    dataDownloadUrlExpiresInMinutes: 30,
  };
  if (dataset === 'broadcastchannelmetrics') body.channelId = T.channelIds[0];
  return body;
}

function createExport(
  dataset: Dataset = 'deliverymetrics',
  overrides: Record<string, unknown> = {},
  token: string | null | undefined = T.tokens[dataset], // null: send no token
): Promise<Res> {
  const body = { ...defaultBody(dataset), ...overrides };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return request(requestUrl(dataset), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...tokenHeader(token) },
    body: JSON.stringify(body),
  });
}

function postRaw(dataset: Dataset, body: string): Promise<Res> {
  return request(requestUrl(dataset), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...tokenHeader(T.tokens[dataset]) },
    body,
  });
}

async function statusUrlOf(
  dataset: Dataset = 'deliverymetrics',
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const res = await createExport(dataset, overrides);
  assert.equal(res.status, 200, res.text);
  return json<{ statusUrl: string }>(res).statusUrl;
}

async function poll(statusUrl: string, dataset: Dataset = 'deliverymetrics'): Promise<StatusBody> {
  const res = await request(statusUrl, { headers: tokenHeader(T.tokens[dataset]) });
  assert.equal(res.status, 200, res.text);
  return json<StatusBody>(res);
}

/** Requests an export and polls it to SUCCESS; returns its status URL and download details. */
async function exportReady(
  dataset: Dataset = 'deliverymetrics',
  overrides: Record<string, unknown> = {},
): Promise<{ statusUrl: string; dataUrl: string; expiresAt: string }> {
  const statusUrl = await statusUrlOf(dataset, overrides);
  for (let i = 0; i < 10; i++) {
    const s = await poll(statusUrl, dataset);
    if (s.status === 'SUCCESS') return { statusUrl, ...s.downloadDetails! };
  }
  throw new Error('export never succeeded');
}

function parseCsv(text: string): string[][] {
  const body = text.replace(/^\uFEFF/, '');
  assert.ok(body.endsWith('\r\n'), 'file ends with CRLF');
  return body
    .slice(0, -2)
    .split('\r\n')
    .map((l) => l.split(','));
}

before(async () => {
  emu = await Emulator.start({ now: () => new Date(nowMs) });
});

after(() => emu.close());

beforeEach(() => {
  emu.reset();
  nowMs = BASE_NOW;
});

// ---------------------------------------------------------------------------------------------

describe('apns request endpoint', () => {
  it('accepts only the token of the dataset in the path', async () => {
    for (const dataset of Object.keys(T.tokens) as Dataset[]) {
      for (const other of Object.keys(T.tokens) as Dataset[]) {
        const res = await createExport(dataset, {}, T.tokens[other]);
        assert.equal(res.status, dataset === other ? 200 : 401, `${dataset} with ${other} token`);
      }
      const missing = await createExport(dataset, {}, null);
      assert.equal(missing.status, 401);
      assert.ok(json(missing).reason);
    }
    const otherTeam = { ...T, teamId: 'ZZZZZ99999' };
    const res = await request(requestUrl('deliverymetrics', otherTeam), {
      method: 'POST',
      headers: tokenHeader(T.tokens.deliverymetrics),
      body: JSON.stringify(defaultBody('deliverymetrics')),
    });
    assert.equal(res.status, 401);
  });

  it('returns a status URL on the api origin and a space-separated requestedAt', async () => {
    const res = await createExport();
    assert.equal(res.status, 200);
    const body = json<{ statusUrl: string; requestedAt: string }>(res);
    assert.equal(new URL(body.statusUrl).origin, emu.apiUrl);
    assert.equal(body.requestedAt, '2026-10-15 12:00:00Z');
  });

  it('rejects each date and body rule with 400 and a reason', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ startDate: '2026-09-14' }, /startDate 2026-09-14 is more than 30 days in the past/],
      [{ endDate: '2026-10-15' }, /endDate 2026-10-15 is not at least one day in the past/],
      [{ startDate: '2026-10-05', endDate: '2026-10-05' }, /must be later than startDate/],
      [{ startDate: '2026-10-06', endDate: '2026-10-05' }, /must be later than startDate/],
      [{ startDate: '2026-9-20' }, /startDate "2026-9-20" is not a valid yyyy-MM-dd date/],
      [{ endDate: '2026-02-30' }, /endDate "2026-02-30" is not a valid/],
      [{ startDate: 20261001 }, /startDate 20261001 is not a valid/],
      [{ startDate: undefined }, /startDate is required/],
      [{ endDate: undefined }, /endDate is required/],
      [{ dataDownloadUrlExpiresInMinutes: 19 }, /dataDownloadUrlExpiresInMinutes 19 must be/],
      [{ dataDownloadUrlExpiresInMinutes: 61 }, /must be an integer from 20 to 60/],
      [{ dataDownloadUrlExpiresInMinutes: 30.5 }, /must be an integer/],
      [{ dataDownloadUrlExpiresInMinutes: '30' }, /must be an integer/],
      [
        { dataDownloadUrlExpiresInMinutes: undefined },
        /dataDownloadUrlExpiresInMinutes is required/,
      ],
      [{ channelId: T.channelIds[0] }, /channelId is not allowed for deliverymetrics/],
    ];
    for (const [overrides, re] of cases) {
      const res = await createExport('deliverymetrics', overrides);
      assert.equal(res.status, 400, JSON.stringify(overrides));
      assert.match(String(json(res).reason), re);
    }
    const app = await createExport('broadcastapplicationmetric', { channelId: T.channelIds[0] });
    assert.equal(app.status, 400);
    const noChannel = await createExport('broadcastchannelmetrics', { channelId: undefined });
    assert.equal(noChannel.status, 400);
    assert.match(String(json(noChannel).reason), /channelId is required/);
    const notB64 = await createExport('broadcastchannelmetrics', { channelId: 'not base64!' });
    assert.equal(notB64.status, 400);
    for (const bad of ['{"startDate":', '[]', '']) {
      const res = await postRaw('deliverymetrics', bad);
      assert.equal(res.status, 400, bad);
      assert.ok(json(res).reason);
    }
    assert.equal(emu.requests.filter((r) => r.status === 200).length, 0);
  });

  it('accepts the boundaries of each rule', async () => {
    const ok: Record<string, unknown>[] = [
      { startDate: '2026-09-15', endDate: '2026-10-14' },
      { startDate: '2026-10-13', endDate: '2026-10-14', dataDownloadUrlExpiresInMinutes: 20 },
      { dataDownloadUrlExpiresInMinutes: 60 },
    ];
    for (const overrides of ok) {
      const res = await createExport('deliverymetrics', overrides);
      assert.equal(res.status, 200, `${JSON.stringify(overrides)}: ${res.text}`);
    }
    // The rules follow the emulator clock.
    nowMs = Date.parse('2026-11-20T00:30:00Z');
    const res = await createExport('deliverymetrics');
    assert.equal(res.status, 400);
    assert.match(String(json(res).reason), /more than 30 days in the past/);
  });

  it("accepts Apple's example body with a trailing comma", async () => {
    const body =
      '{"startDate":"2026-10-03","endDate":"2026-10-08","dataDownloadUrlExpiresInMinutes":30,' +
      `"channelId":"${T.channelIds[1]}",}`;
    const res = await postRaw('broadcastchannelmetrics', body);
    assert.equal(res.status, 200, res.text);
    const spaced = await postRaw(
      'deliverymetrics',
      '{ "startDate": "2026-10-03", "endDate": "2026-10-08", "dataDownloadUrlExpiresInMinutes": 30 ,\n}\n',
    );
    assert.equal(spaced.status, 200, spaced.text);
  });

  it('answers 404 for an unknown channel', async () => {
    const unknown = Buffer.alloc(16, 7).toString('base64');
    const res = await createExport('broadcastchannelmetrics', { channelId: unknown });
    assert.equal(res.status, 404);
    assert.deepEqual(json(res), { reason: 'channel identifier not found' });
  });

  it('returns the same statusUrl for a repeat within 24 h', async () => {
    const first = await createExport();
    const again = await createExport();
    assert.equal(json(again).statusUrl, json(first).statusUrl);
    assert.equal(json(again).requestedAt, json(first).requestedAt);
    const otherRange = await statusUrlOf('deliverymetrics', { endDate: '2026-10-09' });
    assert.notEqual(otherRange, json(first).statusUrl);
    const ch0 = await statusUrlOf('broadcastchannelmetrics');
    const ch1 = await statusUrlOf('broadcastchannelmetrics', { channelId: T.channelIds[1] });
    assert.notEqual(ch0, ch1);
    nowMs += 24 * 3_600_000;
    const nextDay = await statusUrlOf();
    assert.notEqual(nextDay, json(first).statusUrl);
  });
});

describe('apns status and download', () => {
  it('reports PROCESSING for processingPolls polls, then SUCCESS', async () => {
    const statusUrl = await statusUrlOf();
    const seen: StatusBody[] = [];
    for (let i = 0; i < 4; i++) seen.push(await poll(statusUrl));
    assert.deepEqual(
      seen.map((s) => s.status),
      ['PROCESSING', 'PROCESSING', 'SUCCESS', 'SUCCESS'],
    );
    assert.equal(seen[0].downloadDetails, undefined);
    assert.equal(seen[0].requestedAt, '2026-10-15T12:00:00.000Z');
    assert.ok(seen[2].downloadDetails);
    // Each SUCCESS gives a fresh signature.
    assert.notEqual(seen[2].downloadDetails.dataUrl, seen[3].downloadDetails!.dataUrl);

    const fast = await Emulator.start({ apns: { processingPolls: 0 }, now: () => new Date(nowMs) });
    try {
      const res = await request(requestUrl('deliverymetrics').replace(emu.apiUrl, fast.apiUrl), {
        method: 'POST',
        headers: tokenHeader(T.tokens.deliverymetrics),
        body: JSON.stringify(defaultBody('deliverymetrics')),
      });
      const first = await request(json<{ statusUrl: string }>(res).statusUrl, {
        headers: tokenHeader(T.tokens.deliverymetrics),
      });
      assert.equal(json<StatusBody>(first).status, 'SUCCESS');
    } finally {
      await fast.close();
    }
  });

  it('answers 404 to a wrong or missing token on the status endpoint', async () => {
    const statusUrl = await statusUrlOf();
    for (const token of [T.tokens.broadcastapplicationmetric, undefined, 'nope']) {
      const res = await request(statusUrl, { headers: tokenHeader(token) });
      assert.equal(res.status, 404);
      assert.deepEqual(json(res), { reason: 'The data export token is invalid' });
    }
    const unknownJob = statusUrl.replace(/requests\/[^/]+\//, 'requests/nope/');
    const res = await request(unknownJob, { headers: tokenHeader(T.tokens.deliverymetrics) });
    assert.equal(res.status, 404);
  });

  it('serves the data on the files origin until the URL expires', async () => {
    const { statusUrl, dataUrl, expiresAt } = await exportReady('deliverymetrics', {
      dataDownloadUrlExpiresInMinutes: 20,
    });
    const url = new URL(dataUrl);
    assert.equal(url.origin, emu.filesUrl);
    assert.notEqual(url.origin, emu.apiUrl);
    assert.match(url.pathname, /^\/apns\/[^/]+\/data\.csv$/);
    assert.match(url.searchParams.get('signature') ?? '', /^[0-9a-f]{64}$/);
    assert.match(expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(Math.abs(Date.parse(expiresAt) - (nowMs + 20 * 60_000)) < 1000);

    const ok = await request(dataUrl);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-length'], String(ok.raw.length));
    assert.match(String(ok.headers['content-type']), /^text\/csv/);

    nowMs += 20 * 60_000 + 1000;
    const expired = await request(dataUrl);
    assert.equal(expired.status, 403);
    assert.match(
      expired.text,
      /<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/,
    );

    const fresh = await poll(statusUrl);
    assert.equal(fresh.status, 'SUCCESS');
    const again = await request(fresh.downloadDetails!.dataUrl);
    assert.equal(again.status, 200);
    assert.deepEqual(again.raw, ok.raw);

    const tampered = new URL(fresh.downloadDetails!.dataUrl);
    tampered.searchParams.set('signature', '0'.repeat(64));
    const bad = await request(tampered.toString());
    assert.equal(bad.status, 403);
    assert.match(bad.text, /<Code>AccessDenied<\/Code>/);
    const noSig = new URL(fresh.downloadDetails!.dataUrl);
    noSig.search = '';
    assert.equal((await request(noSig.toString())).status, 403);
  });

  it('gzips the file only when asked', async () => {
    const { dataUrl } = await exportReady();
    const plain = await request(dataUrl);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.text.startsWith('\uFEFFPush Type,Status,Date (UTC),Count\r\n'));
    const gz = await request(dataUrl, { headers: { 'accept-encoding': 'br, gzip;q=0.8' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-length'], String(gz.raw.length));
    assert.ok(gz.raw.length < plain.raw.length);
    assert.deepEqual(gunzipSync(gz.raw), plain.raw);
    const refused = await request(dataUrl, { headers: { 'accept-encoding': 'gzip;q=0' } });
    assert.equal(refused.headers['content-encoding'], undefined);
  });
});

describe('apns data', () => {
  it('delivery metrics match the generator, vary by day, and are not sorted by date', async () => {
    const range = { startDate: '2026-09-20', endDate: '2026-10-14' };
    const { dataUrl } = await exportReady('deliverymetrics', range);
    const text = (await request(dataUrl)).text;
    assert.ok(text.startsWith('\uFEFF'));
    const [header, ...rows] = parseCsv(text);
    assert.deepEqual(header, APNS_DELIVERY_HEADER);

    const days = daysBetween(range.startDate, range.endDate);
    const expected = days.flatMap((day) =>
      apnsDeliveryRows(T.teamId, T.bundleId, day).map((r) =>
        [r.pushType, r.status, day, String(r.count)].join(','),
      ),
    );
    assert.deepEqual(rows.map((r) => r.join(',')).sort(), [...expected].sort());
    assert.ok(rows.length < days.length * 12, 'some combos are absent');
    const perDay = new Set(days.map((d) => apnsDeliveryRows(T.teamId, T.bundleId, d).length));
    assert.ok(perDay.size > 1, 'row counts vary by day');
    const dates = rows.map((r) => r[2]);
    assert.notDeepEqual(dates, [...dates].sort(), 'rows are not sorted by date');
    for (const r of rows) assert.ok(Number(r[3]) >= 0 && Number(r[3]) <= 100000);

    // Same bytes from another emulator instance.
    const other = await Emulator.start({
      apns: { processingPolls: 0 },
      now: () => new Date(nowMs),
    });
    try {
      const res = await request(requestUrl('deliverymetrics').replace(emu.apiUrl, other.apiUrl), {
        method: 'POST',
        headers: tokenHeader(T.tokens.deliverymetrics),
        body: JSON.stringify({ ...defaultBody('deliverymetrics'), ...range }),
      });
      const polled = await request(json<{ statusUrl: string }>(res).statusUrl, {
        headers: tokenHeader(T.tokens.deliverymetrics),
      });
      const dataUrl2 = json<StatusBody>(polled).downloadDetails!.dataUrl;
      assert.equal((await request(dataUrl2)).text, text);
    } finally {
      await other.close();
    }
  });

  it('a two-day file is still not sorted', async () => {
    const { dataUrl } = await exportReady('broadcastapplicationmetric', {
      startDate: '2026-10-12',
      endDate: '2026-10-13',
    });
    const [, ...rows] = parseCsv((await request(dataUrl)).text);
    assert.equal(rows.length, 2);
    assert.ok(rows[0][0].slice(0, 10) > rows[1][0].slice(0, 10));
  });

  it('broadcast app rows match the generator, with ISO dates and -1 on some days', async () => {
    const range = { startDate: '2026-09-15', endDate: '2026-10-14' };
    const { dataUrl } = await exportReady('broadcastapplicationmetric', range);
    const text = (await request(dataUrl)).text;
    assert.ok(!text.startsWith('\uFEFF'));
    const [header, ...rows] = parseCsv(text);
    assert.deepEqual(header, APNS_BROADCAST_APP_HEADER);
    const days = daysBetween(range.startDate, range.endDate);
    const expected = days.map((day) => {
      const r = apnsBroadcastAppRow(T.teamId, T.bundleId, day);
      const date = apnsBroadcastDateCell(T.teamId, T.bundleId, null, day);
      return [date, r.published, r.delivered, r.totalSubscriptions, r.uniqueSubscribers].join(',');
    });
    assert.deepEqual(rows.map((r) => r.join(',')).sort(), [...expected].sort());
    assert.ok(
      rows.some((r) => /^\d{4}-\d\d-\d\dT00:00:00Z$/.test(r[0])),
      'some ISO dates',
    );
    assert.ok(
      rows.some((r) => /^\d{4}-\d\d-\d\d$/.test(r[0])),
      'some plain dates',
    );
    assert.ok(
      rows.some((r) => r.slice(1).includes('-1')),
      'some privacy-withheld counts',
    );
    assert.ok(
      rows.some((r) => !r.slice(1).includes('-1')),
      'some complete days',
    );
  });

  it('each channel has its own data', async () => {
    const files: string[][][] = [];
    for (const channelId of T.channelIds) {
      const { dataUrl } = await exportReady('broadcastchannelmetrics', { channelId });
      const [header, ...rows] = parseCsv((await request(dataUrl)).text);
      assert.deepEqual(header, APNS_BROADCAST_CHANNEL_HEADER);
      const expected = daysBetween('2026-10-01', '2026-10-10').map((day) => {
        const r = apnsBroadcastChannelRow(T.teamId, T.bundleId, channelId, day);
        const date = apnsBroadcastDateCell(T.teamId, T.bundleId, channelId, day);
        return [date, r.published, r.delivered, r.totalSubscriptions].join(',');
      });
      assert.deepEqual(rows.map((r) => r.join(',')).sort(), [...expected].sort());
      files.push(rows);
    }
    assert.notDeepEqual(files[0], files[1]);
  });
});

describe('faults', () => {
  it('rate_limit answers 429 with Retry-After, then recovers', async () => {
    emu.inject({ kind: 'rate_limit', route: 'apns.request', times: 2, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const res = await createExport();
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '7');
      assert.ok(json(res).reason);
    }
    assert.equal((await createExport()).status, 200);
    emu.inject({ kind: 'rate_limit', route: 'apns.status' });
    const statusUrl = await statusUrlOf();
    const res = await request(statusUrl, { headers: tokenHeader(T.tokens.deliverymetrics) });
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
  });

  it('server_error bursts 5xx without touching the job', async () => {
    const statusUrl = await statusUrlOf();
    emu.inject({ kind: 'server_error', route: 'apns.status', times: 2 });
    emu.inject({ kind: 'server_error', route: 'apns.status', status: 500 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await request(statusUrl, { headers: tokenHeader(T.tokens.deliverymetrics) })).status,
      );
    }
    assert.deepEqual(statuses, [503, 503, 500]);
    // The failed polls did not count as PROCESSING polls.
    assert.equal((await poll(statusUrl)).status, 'PROCESSING');
    assert.equal((await poll(statusUrl)).status, 'PROCESSING');
    assert.equal((await poll(statusUrl)).status, 'SUCCESS');

    const { dataUrl } = await exportReady('deliverymetrics', { endDate: '2026-10-02' });
    emu.inject({ kind: 'server_error', route: '*' });
    const down = await request(dataUrl);
    assert.equal(down.status, 503);
    assert.match(down.text, /<Error><Code>SlowDown<\/Code>/);
    assert.equal((await request(dataUrl)).status, 200);
  });

  it('reset_mid_body and truncated_body break the response once', async () => {
    const { dataUrl } = await exportReady();
    const full = (await request(dataUrl)).raw;
    for (const kind of ['reset_mid_body', 'truncated_body'] as const) {
      emu.inject({ kind, route: 'apns.download' });
      await assert.rejects(request(dataUrl), kind);
      const rec = emu.requests[emu.requests.length - 1];
      assert.equal(rec.route, 'apns.download');
      assert.equal(rec.status, 200);
      assert.deepEqual((await request(dataUrl)).raw, full);
    }
    // Also for small JSON bodies, and gzip bodies.
    emu.inject({ kind: 'truncated_body', route: 'apns.request' });
    await assert.rejects(createExport());
    emu.inject({ kind: 'reset_mid_body', route: 'apns.*' });
    await assert.rejects(request(dataUrl, { headers: { 'accept-encoding': 'gzip' } }));
  });

  it('export_failed: the job reports FAILED for good and a repeat request starts a new job', async () => {
    const statusUrl = await statusUrlOf();
    assert.equal((await poll(statusUrl)).status, 'PROCESSING');
    emu.inject({ kind: 'export_failed' });
    assert.equal((await poll(statusUrl)).status, 'FAILED');
    const again = await poll(statusUrl);
    assert.equal(again.status, 'FAILED');
    assert.equal(again.downloadDetails, undefined);
    const next = await statusUrlOf();
    assert.notEqual(next, statusUrl);
    assert.equal((await poll(next)).status, 'PROCESSING');
  });

  it('export_expired: reports EXPIRED, invalidating issued URLs', async () => {
    const { statusUrl, dataUrl } = await exportReady();
    emu.inject({ kind: 'export_expired' });
    assert.equal((await poll(statusUrl)).status, 'EXPIRED');
    assert.equal((await poll(statusUrl)).status, 'EXPIRED');
    assert.equal((await request(dataUrl)).status, 403);
    const next = await statusUrlOf();
    assert.notEqual(next, statusUrl);
  });

  it('download_url_expired: 403 as if expired, then the same URL works', async () => {
    const { dataUrl } = await exportReady();
    emu.inject({ kind: 'download_url_expired', times: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await request(dataUrl);
      assert.equal(res.status, 403);
      assert.match(res.text, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    }
    assert.equal((await request(dataUrl)).status, 200);
  });

  it('malformed_csv plants each defect in the next file only', async () => {
    const { dataUrl } = await exportReady();
    const clean = parseCsv((await request(dataUrl)).text);
    const check: Record<string, (text: string) => void> = {
      bad_count: (text) => assert.ok(parseCsv(text).some((r) => r[3] === '12x')),
      bad_date: (text) => assert.ok(parseCsv(text).some((r) => r[2] === '2026-13-45')),
      unterminated_quote: (text) => {
        assert.equal(text.split('"').length - 1, 1);
        assert.ok(parseCsv(text).some((r) => r[0].startsWith('"')));
      },
      extra_column: (text) => {
        const [header, ...rows] = parseCsv(text);
        assert.deepEqual(header, [...APNS_DELIVERY_HEADER, 'Region']);
        assert.ok(rows.every((r) => r.length === 5 && r[4].length > 0));
      },
      missing_column: (text) => {
        const [header, ...rows] = parseCsv(text);
        assert.deepEqual(header, ['Push Type', 'Status', 'Date (UTC)']);
        assert.ok(rows.every((r) => r.length === 3));
        assert.equal(rows.length, clean.length - 1);
      },
    };
    for (const [variant, verify] of Object.entries(check)) {
      emu.inject({ kind: 'malformed_csv', variant: variant as 'bad_count' });
      verify((await request(dataUrl)).text);
      assert.deepEqual(parseCsv((await request(dataUrl)).text), clean, `${variant} consumed`);
    }
    const app = await exportReady('broadcastapplicationmetric');
    emu.inject({ kind: 'malformed_csv', variant: 'missing_column' });
    const [header] = parseCsv((await request(app.dataUrl)).text);
    assert.ok(!header.includes('Total Subscriptions'));
    assert.ok(header.includes('Unique Subscribers'));
  });

  it('validates faults and clears them', async () => {
    assert.throws(() => emu.inject({ kind: 'nope' } as unknown as Fault));
    assert.throws(() => emu.inject({ kind: 'rate_limit', route: 'apns.request', times: 0 }));
    assert.throws(() =>
      emu.inject({ kind: 'malformed_csv', variant: 'wrong' } as unknown as Fault),
    );
    emu.inject({ kind: 'server_error', route: 'apns.request', times: 5 });
    assert.equal(emu.pendingFaults().length, 1);
    emu.clearFaults();
    assert.equal((await createExport()).status, 200);
  });

  it('the control endpoint injects, lists and clears faults, unrecorded', async () => {
    const post = await request(`${emu.apiUrl}/__emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'server_error', route: 'apns.request', status: 502 }),
    });
    assert.equal(post.status, 201);
    const bad = await request(`${emu.apiUrl}/__emulator/faults`, {
      method: 'POST',
      body: '{"kind":"meteor"}',
    });
    assert.equal(bad.status, 400);
    assert.equal((await createExport()).status, 502);
    await request(`${emu.apiUrl}/__emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'server_error', route: 'apns.request' }),
    });
    const del = await request(`${emu.apiUrl}/__emulator/faults`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await createExport()).status, 200);
    const listed = json<unknown[]>(await request(`${emu.apiUrl}/__emulator/requests`));
    assert.equal(listed.length, 2);
    assert.equal(emu.requests.length, 2);
  });
});

describe('apns answer variants', () => {
  /** One export on a fresh emulator with these variants: the request answer, two polls, the file. */
  async function exportWith(variants: EmulatorOptions['apns'], faults: Fault[] = []) {
    const e = await Emulator.start({
      now: () => new Date(BASE_NOW),
      apns: { processingPolls: 1, ...variants },
    });
    for (const f of faults) e.inject(f);
    try {
      const headers = tokenHeader(T.tokens.deliverymetrics);
      const created = await request(
        `${e.apiUrl}/v1/dataExports/apns/teams/${T.teamId}/appId/${T.bundleId}/datasetName/deliverymetrics/request`,
        { method: 'POST', headers, body: JSON.stringify(defaultBody('deliverymetrics')) },
      );
      const answer = json<Record<string, string>>(created);
      const statusUrl = answer.statusUrl ?? answer.statusURL;
      const polls = [];
      for (let i = 0; i < 2; i++) polls.push(json(await request(statusUrl, { headers })));
      return { created: created.status, keys: Object.keys(answer), polls, e };
    } catch (err) {
      await e.close();
      throw err;
    }
  }

  it('requestVariant: statusUrl (200), statusURL (200), statusUrl (202)', async () => {
    const want = {
      statusUrl: [200, 'statusUrl'],
      statusURL: [200, 'statusURL'],
      accepted202: [202, 'statusUrl'],
    };
    assert.deepEqual(Object.keys(want), APNS_REQUEST_VARIANTS);
    for (const v of APNS_REQUEST_VARIANTS) {
      const { created, keys, polls, e } = await exportWith({ requestVariant: v });
      await e.close();
      assert.deepEqual([created, keys[0]], want[v], v);
      assert.deepEqual(
        polls.map((p) => p.status),
        ['PROCESSING', 'SUCCESS'],
      );
    }
  });

  it('statusVariant: the status spellings and the downloadDetails shapes', async () => {
    const want = {
      upper: [['PROCESSING', 'SUCCESS'], 'dataUrl'],
      lower: [['processing', 'success'], 'dataUrl'],
      capitalized: [['Processing', 'Success'], 'dataUrl'],
      succeeded: [['PROCESSING', 'Succeeded'], 'dataUrl'],
      queued: [['QUEUED', 'SUCCESS'], 'dataUrl'],
      dataURL: [['PROCESSING', 'SUCCESS'], 'dataURL'],
      dataurl: [['PROCESSING', 'SUCCESS'], 'dataurl'],
      onePartList: [['PROCESSING', 'SUCCESS'], 'list'],
      twoPartList: [['PROCESSING', 'SUCCESS'], 'list'],
    };
    assert.deepEqual(Object.keys(want), APNS_STATUS_VARIANTS);
    for (const v of APNS_STATUS_VARIANTS) {
      const { polls, e } = await exportWith({ statusVariant: v });
      try {
        const [statuses, key] = want[v];
        assert.deepEqual(
          polls.map((p) => p.status),
          statuses,
          v,
        );
        const details = polls[1].downloadDetails as
          Record<string, string> | Record<string, string>[];
        const part = Array.isArray(details) ? details[0] : details;
        assert.equal(Array.isArray(details) ? 'list' : Object.keys(details)[0], key, v);
        const url = part.dataUrl ?? part.dataURL ?? part.dataurl;
        assert.match(part.expiresAt, /Z$/);
        assert.equal((await request(url)).status, 200, v);
      } finally {
        await e.close();
      }
    }
    // FAILED and EXPIRED follow the variant's spelling too.
    for (const kind of ['export_failed', 'export_expired'] as const) {
      const { polls, e } = await exportWith({ statusVariant: 'lower' }, [{ kind }]);
      await e.close();
      assert.equal(polls[0].status, kind === 'export_failed' ? 'failed' : 'expired');
    }
  });

  it('an unknown variant name is refused', async () => {
    await assert.rejects(
      Emulator.start({ apns: { statusVariant: 'weird' as 'upper' } }),
      /apns\.statusVariant must be one of upper, lower/,
    );
    await assert.rejects(
      Emulator.start({ apns: { requestVariant: 'location' as 'statusUrl' } }),
      /apns\.requestVariant/,
    );
  });
});

describe('emulator plumbing', () => {
  it('records every request on both listeners, in order', async () => {
    const { dataUrl } = await exportReady();
    await request(dataUrl, { headers: { 'accept-encoding': 'gzip' } });
    const unknownApi = await request(`${emu.apiUrl}/v9/nothing?x=1`);
    assert.equal(unknownApi.status, 404);
    assert.ok(json(unknownApi).error);
    assert.equal((await request(`${emu.filesUrl}/nothing`)).status, 404);

    assert.deepEqual(
      emu.requests.map((r) => `${r.origin} ${r.method} ${r.route} ${r.status}`),
      [
        'api POST apns.request 200',
        'api GET apns.status 200',
        'api GET apns.status 200',
        'api GET apns.status 200',
        'files GET apns.download 200',
        'api GET unknown 404',
        'files GET unknown 404',
      ],
    );
    const [req, , , , down, unknown] = emu.requests;
    assert.equal(req.headers['x-apple-cloudkit-management-token'], T.tokens.deliverymetrics);
    assert.deepEqual(JSON.parse(req.body), defaultBody('deliverymetrics'));
    assert.equal(down.headers['x-apple-cloudkit-management-token'], undefined);
    assert.equal(down.headers['accept-encoding'], 'gzip');
    assert.deepEqual(Object.keys(down.query).sort(), ['expires', 'signature']);
    assert.equal(unknown.path, '/v9/nothing');
    assert.deepEqual(unknown.query, { x: '1' });
    assert.ok(emu.requests.every((r, i) => i === 0 || r.at >= emu.requests[i - 1].at));
  });

  it('onesignal and pushwoosh routes are routed to their modules', async () => {
    const os = await request(`${emu.apiUrl}/notifications?app_id=x`);
    assert.equal(os.status, 400);
    assert.deepEqual(json(os), { errors: ['app_id not found'] });
    const pw = await request(`${emu.apiUrl}/json/1.3/getMessageLog`, { method: 'POST' });
    assert.equal(pw.status, 400); // Pushwoosh is emulated: an empty body is malformed JSON
    assert.deepEqual(
      emu.requests.map((r) => r.route),
      ['onesignal.notifications', 'pushwoosh.getMessageLog'],
    );
  });

  it('reset() forgets jobs', async () => {
    const statusUrl = await statusUrlOf();
    emu.reset();
    assert.equal(emu.requests.length, 0);
    const res = await request(statusUrl, { headers: tokenHeader(T.tokens.deliverymetrics) });
    assert.equal(res.status, 404);
  });

  it('close() does not hang on keep-alive or in-flight sockets', async () => {
    const e = await Emulator.start();
    const agent = new http.Agent({ keepAlive: true });
    try {
      await request(`${e.apiUrl}/x`, { agent });
      await request(`${e.filesUrl}/x`, { agent });
      // A request whose body never finishes keeps its socket busy.
      const hanging = http.request(`${e.apiUrl}/y`, { method: 'POST', agent });
      hanging.on('error', () => {});
      hanging.write('{"partial":');
      await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      await e.close();
      await e.close();
      assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
    } finally {
      agent.destroy();
    }
  });

  it('main.js prints the URLs and credentials, and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [join(__dirname, '../../emulator/main.js'), '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', () => reject(new Error(`exited early: ${out}`)));
      });
      const info = JSON.parse(line) as { apiUrl: string; filesUrl: string; apns: ApnsTeamFixture };
      assert.deepEqual(info.apns, DEFAULT_APNS_TEAM);
      assert.match(info.filesUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await request(`${info.apiUrl}/nothing`)).status, 404);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
