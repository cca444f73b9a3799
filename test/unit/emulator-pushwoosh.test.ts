import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, inflateRawSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import { parse } from 'csv-parse/sync';
import { request, type Res } from '../support/http';
import { Emulator, type EmulatorOptions, type Fault } from '../../emulator/server';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../../emulator/fixtures';
import {
  PUSHWOOSH_ACCESS_DENIED_MESSAGE,
  PUSHWOOSH_ACCOUNT_NOT_FOUND,
  PUSHWOOSH_INTERVAL_ERROR,
  PUSHWOOSH_MESSAGE_LOG_VARIANTS,
  PUSHWOOSH_NOT_CUSTOM_PLAN,
  PUSHWOOSH_PENDING_MESSAGE,
  PUSHWOOSH_PENDING_VARIANTS,
  PUSHWOOSH_READY_VARIANTS,
  PUSHWOOSH_STATUSES,
  PUSHWOOSH_TRACKING_ENTRY,
  PUSHWOOSH_TRACKING_HEADER,
  pushwooshApplications,
  pushwooshMessageLogRows,
  pushwooshTrackingRows,
  type PushwooshAccountFixture,
  type PushwooshMessageLogRow,
  type PushwooshMessageLogVariant,
  type PushwooshPendingVariant,
  type PushwooshReadyVariant,
  type PushwooshVariants,
} from '../../emulator/pushwoosh';

// ---------------------------------------------------------------------------------------------
// Helpers

const APP = DEFAULT_PUSHWOOSH_ACCOUNT.applicationCode;
/** The default account's three applications: its tracking log holds the rows of each. */
const APPS = pushwooshApplications(DEFAULT_PUSHWOOSH_ACCOUNT);
const TOKEN = DEFAULT_PUSHWOOSH_ACCOUNT.apiToken;
const OTHER: PushwooshAccountFixture = {
  apiToken: 'pw-token-other-account-0123456789abcdefghijklmnop',
  applicationCode: 'AB12C-3DE45',
  messageLogEnabled: false,
};
const NOW = Date.parse('2026-10-15T12:00:00Z'); // today 2026-10-15
const PER_DAY = 40;
let emu: Emulator;

function json<T = Record<string, unknown>>(res: Res): T {
  return JSON.parse(res.text) as T;
}

/** POST /json/1.3/{path} with `{"request": body}`, or with `raw` as the whole body. */
const rpc = (path: string, body: unknown, raw?: string) =>
  requestJson(`${emu.apiUrl}/json/1.3/${path}`, raw ?? JSON.stringify({ request: body }));

function requestJson(url: string, body: string, headers: Record<string, string> = {}) {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

async function trackingLog(date?: string, auth = TOKEN): Promise<string> {
  const res = await rpc('getTrackingLog', date === undefined ? { auth } : { auth, date });
  assert.equal(res.status, 200, res.text);
  const body = json<{ status_code: number; response: { request_id: string } }>(res);
  assert.equal(body.status_code, 200, res.text);
  assert.match(body.response.request_id, /^[0-9a-f]{32}$/);
  return body.response.request_id;
}

async function results(requestId: string, auth = TOKEN) {
  const res = await rpc('getResults', { auth, request_id: requestId });
  assert.equal(res.status, 200);
  return json<{ status_code: number; status_message: string; response: unknown }>(res);
}

/** Polls getResults until the file is ready; returns its URL and how many polls were pending. */
async function fileUrlOf(requestId: string): Promise<{ url: string; pending: number }> {
  for (let pending = 0; pending < 20; pending++) {
    const r = await results(requestId);
    if (r.status_code === 200) {
      return { url: (r.response as { fileName: string }).fileName, pending };
    }
    assert.deepEqual(r, {
      status_code: 210,
      status_message: PUSHWOOSH_PENDING_MESSAGE,
      response: null,
    });
  }
  throw new Error('never ready');
}

async function downloadZip(date?: string): Promise<Res> {
  const { url } = await fileUrlOf(await trackingLog(date));
  return request(url);
}

function csvOf(zip: Buffer): string {
  const files = unzipSync(new Uint8Array(zip));
  assert.deepEqual(Object.keys(files), [PUSHWOOSH_TRACKING_ENTRY]);
  return Buffer.from(files[PUSHWOOSH_TRACKING_ENTRY]).toString('utf8');
}

function parseCsv(text: string): string[][] {
  assert.ok(text.startsWith(`${PUSHWOOSH_TRACKING_HEADER}\n`), 'header line');
  return parse(text, { delimiter: ';', from_line: 2 }) as string[][];
}

function assert210(res: Res, message?: string | RegExp) {
  assert.equal(res.status, 200, res.text);
  const body = json<{ status_code: number; status_message: string; response: unknown }>(res);
  assert.equal(body.status_code, 210, res.text);
  assert.equal(body.response, null);
  if (typeof message === 'string') assert.equal(body.status_message, message);
  else if (message) assert.match(body.status_message, message);
}

const V2 = () => `${emu.apiUrl}/api/v2/statistics/getMessageLog`;
const tokenHeader = (t = TOKEN) => ({ authorization: `Token ${t}` });

interface LogPage {
  result: PushwooshMessageLogRow[];
  pagination_token: string | null;
}

async function messageLogAll(query: Record<string, unknown>, limit: number) {
  const rows: PushwooshMessageLogRow[] = [];
  const tokens: (string | null)[] = [];
  let token: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const body: Record<string, unknown> = { ...query, limit };
    if (token) body.pagination_token = token;
    const res = await requestJson(V2(), JSON.stringify(body), tokenHeader());
    assert.equal(res.status, 200, res.text);
    const page = json<LogPage>(res);
    assert.ok(page.result.length <= limit);
    rows.push(...page.result);
    tokens.push(page.pagination_token);
    token = page.pagination_token;
    if (token === null) return { rows, tokens };
  }
  throw new Error('paging never ended');
}

before(async () => {
  emu = await Emulator.start({
    now: () => new Date(NOW),
    pushwoosh: { accounts: [DEFAULT_PUSHWOOSH_ACCOUNT, OTHER], eventsPerDay: PER_DAY },
  });
});

after(async () => {
  await emu.close();
});

beforeEach(() => emu.reset());

// ---------------------------------------------------------------------------------------------

describe('pushwoosh tracking log', () => {
  it('getTrackingLog → getResults (pending, then ready) → ZIP that parses to the rows', async () => {
    const id = await trackingLog('2026-10-10');
    const { url, pending } = await fileUrlOf(id);
    assert.equal(pending, 2);
    assert.equal(url, `${emu.filesUrl}/pushwoosh/tracking_log/${id}.zip`);
    // Ready stays ready.
    assert.equal((await results(id)).status_code, 200);

    const zip = await request(url);
    assert.equal(zip.status, 200);
    assert.equal(zip.headers['content-type'], 'application/zip');
    assert.equal(Number(zip.headers['content-length']), zip.raw.length);
    const text = csvOf(zip.raw);
    const expected = pushwooshTrackingRows(APPS, '2026-10-10', PER_DAY);
    assert.deepEqual(
      parseCsv(text),
      expected.map((r) => r.cells),
    );
    assert.equal(expected.length, PER_DAY * 3);
    const dl = emu.requests.find((r) => r.route === 'pushwoosh.download');
    assert.equal(dl?.origin, 'files');
    assert.equal(dl?.headers.authorization, undefined);
  });

  it('rows: the day, in time order, documented statuses, both timestamp forms, awkward payload', () => {
    const rows = pushwooshTrackingRows(APP, '2026-10-10', PER_DAY);
    const times = rows.map((r) => Date.parse(r.expected.timestamp));
    assert.ok(times.every((t, i) => i === 0 || times[i - 1] <= t));
    assert.ok(times[0] >= Date.parse('2026-10-10T00:00:00Z'));
    assert.ok(times[times.length - 1] < Date.parse('2026-10-11T00:00:00Z'));
    for (const r of rows) {
      assert.ok((PUSHWOOSH_STATUSES as readonly string[]).includes(r.expected.status));
      assert.equal(r.cells.length, 8);
      assert.equal(r.expected.app_code, APP);
      assert.match(r.cells[1], /^T-[0-9A-F]{4}-[0-9A-F]{8}-[0-9A-F]{8}$/);
      if (r.cells[7] === '') assert.equal(r.expected.payload, null);
      else assert.deepEqual(r.expected.payload, JSON.parse(r.cells[7]));
      if (r.expected.status === 'delivered') assert.equal(r.expected.description, 'Success');
    }
    const spaced = rows.filter((r) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(r.cells[0]));
    const old = rows.filter((r) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/.test(r.cells[0]));
    assert.equal(spaced.length + old.length, rows.length);
    assert.ok(old.length >= 1 && old.length < rows.length / 2, `${old.length} old-form rows`);
    // Microseconds are truncated to milliseconds.
    const o = old[0].cells[0];
    assert.equal(old[0].expected.timestamp, `${o.slice(0, 23)}Z`);
    assert.ok(rows.some((r) => r.cells[7] === ''));
    const awkward = rows.filter((r) => r.cells[7].includes('🎉'));
    assert.equal(awkward.length, 1);
    for (const ch of [';', '"', '\n', '\\', 'é', '🎉']) assert.ok(awkward[0].cells[7].includes(ch));
  });

  it('the raw file: `//` header, quoted spaced timestamps, doubled quotes, LF endings', async () => {
    const text = csvOf((await downloadZip('2026-10-12')).raw);
    assert.ok(!text.startsWith('\uFEFF'));
    assert.ok(!text.includes('\r'));
    assert.ok(text.endsWith('\n'));
    assert.match(text, /\n"2026-10-12 \d{2}:\d{2}:\d{2}";T-/);
    assert.match(text, /\n2026-10-12T\d{2}:\d{2}:\d{2}\.\d{6};T-/);
    assert.ok(text.includes('"{""aps"":{""alert"":""Café; \\""VIP\\"" deal'));
  });

  it('date is optional (today) and today holds only events up to now', async () => {
    const rows = parseCsv(csvOf((await downloadZip()).raw));
    const all = pushwooshTrackingRows(APPS, '2026-10-15', PER_DAY);
    const upToNow = all.filter((r) => Date.parse(r.expected.timestamp) <= NOW);
    assert.ok(upToNow.length > 0 && upToNow.length < all.length);
    assert.deepEqual(
      rows,
      upToNow.map((r) => r.cells),
    );
  });

  it('the log covers the last 14 days: older, future and malformed dates are 210', async () => {
    await trackingLog('2026-10-02'); // today - 13
    await trackingLog('2026-10-15');
    for (const date of ['2026-10-01', '2026-10-16', '2026-13-01', '15/10/2026', '', 20261010]) {
      const res = await rpc('getTrackingLog', { auth: TOKEN, date });
      assert210(res, /date/i);
    }
  });

  it('malformed JSON is HTTP 400 / status_code 400; a missing wrapper is 210', async () => {
    for (const path of ['getTrackingLog', 'getResults']) {
      const bad = await rpc(path, undefined, '{"request":');
      assert.equal(bad.status, 400);
      assert.deepEqual(json(bad), {
        status_code: 400,
        status_message: 'Malformed request string',
        response: null,
      });
      assert210(await rpc(path, undefined, JSON.stringify({ auth: TOKEN })));
    }
  });

  it('invalid token, unknown and foreign request ids are 210', async () => {
    assert210(
      await rpc('getTrackingLog', { auth: 'pw-token-wrong' }),
      PUSHWOOSH_ACCESS_DENIED_MESSAGE,
    );
    assert210(await rpc('getTrackingLog', { date: '2026-10-10' }), PUSHWOOSH_ACCESS_DENIED_MESSAGE);
    const id = await trackingLog('2026-10-10');
    assert210(
      await rpc('getResults', { auth: 'nope', request_id: id }),
      PUSHWOOSH_ACCESS_DENIED_MESSAGE,
    );
    assert210(await rpc('getResults', { auth: TOKEN }), /request_id/);
    assert210(await rpc('getResults', { auth: TOKEN, request_id: 'f'.repeat(32) }), /not found/);
    assert210(await rpc('getResults', { auth: OTHER.apiToken, request_id: id }), /not found/);
    // Not ready yet, and unknown ids: the files origin answers 404.
    const early = await request(`${emu.filesUrl}/pushwoosh/tracking_log/${id}.zip`);
    assert.equal(early.status, 404);
    const unknown = await request(`${emu.filesUrl}/pushwoosh/tracking_log/${'0'.repeat(32)}.zip`);
    assert.equal(unknown.status, 404);
  });

  it('the other account downloads its own application', async () => {
    const id = await trackingLog('2026-10-10', OTHER.apiToken);
    let url = '';
    for (let i = 0; i < 5 && !url; i++) {
      const r = await results(id, OTHER.apiToken);
      if (r.status_code === 200) url = (r.response as { fileName: string }).fileName;
    }
    const rows = parseCsv(csvOf((await request(url)).raw));
    assert.deepEqual(
      rows,
      pushwooshTrackingRows(OTHER.applicationCode, '2026-10-10', PER_DAY).map((r) => r.cells),
    );
  });

  it('pendingPolls option and the pushwoosh_pending fault', async () => {
    const quick = await Emulator.start({
      now: () => new Date(NOW),
      pushwoosh: { pendingPolls: 0, eventsPerDay: 5 },
    });
    try {
      const res = await request(`${quick.apiUrl}/json/1.3/getTrackingLog`, {
        method: 'POST',
        body: JSON.stringify({ request: { auth: TOKEN, date: '2026-10-14' } }),
      });
      const id = json<{ response: { request_id: string } }>(res).response.request_id;
      const r = await request(`${quick.apiUrl}/json/1.3/getResults`, {
        method: 'POST',
        body: JSON.stringify({ request: { auth: TOKEN, request_id: id } }),
      });
      assert.equal(json(r).status_code, 200);
    } finally {
      await quick.close();
    }
    emu.inject({ kind: 'pushwoosh_pending', polls: 3 });
    const slow = await trackingLog('2026-10-10');
    const normal = await trackingLog('2026-10-10');
    assert.equal((await fileUrlOf(slow)).pending, 5);
    assert.equal((await fileUrlOf(normal)).pending, 2);
  });

  it('is deterministic: same bytes from a fresh emulator, different per day and app', async () => {
    const a = (await downloadZip('2026-10-11')).raw;
    const again = (await downloadZip('2026-10-11')).raw;
    const other = await Emulator.start({
      now: () => new Date(NOW),
      pushwoosh: { eventsPerDay: PER_DAY },
    });
    try {
      const body = JSON.stringify({ request: { auth: TOKEN, date: '2026-10-11' } });
      const res = await request(`${other.apiUrl}/json/1.3/getTrackingLog`, {
        method: 'POST',
        body,
      });
      const id = json<{ response: { request_id: string } }>(res).response.request_id;
      let url = '';
      while (!url) {
        const r = await request(`${other.apiUrl}/json/1.3/getResults`, {
          method: 'POST',
          body: JSON.stringify({ request: { auth: TOKEN, request_id: id } }),
        });
        const b = json<{ status_code: number; response: { fileName: string } }>(r);
        if (b.status_code === 200) url = b.response.fileName;
      }
      assert.ok((await request(url)).raw.equals(a));
    } finally {
      await other.close();
    }
    assert.ok(a.equals(again));
    assert.notDeepEqual(
      pushwooshTrackingRows(APP, '2026-10-11', 10),
      pushwooshTrackingRows(APP, '2026-10-12', 10),
    );
    assert.notDeepEqual(
      pushwooshTrackingRows(APP, '2026-10-11', 10),
      pushwooshTrackingRows('AB12C-3DE45', '2026-10-11', 10),
    );
    assert.deepEqual(
      pushwooshTrackingRows(APP, '2026-10-11', 10),
      pushwooshTrackingRows(APP, '2026-10-11', 10),
    );
  });
});

describe('pushwoosh getMessageLog', () => {
  const WINDOW = { date_from: '2026-10-09 00:00:00', date_to: '2026-10-11 00:00:00' };
  /** Without an application_code filter: every application's rows, in time order. */
  const expectedWindow = (apps: string | string[] = APPS) => [
    ...pushwooshMessageLogRows(apps, '2026-10-09', PER_DAY).map((e) => e.row),
    ...pushwooshMessageLogRows(apps, '2026-10-10', PER_DAY).map((e) => e.row),
  ];

  it('pages through a window with pagination_token until it is null', async () => {
    const { rows, tokens } = await messageLogAll(WINDOW, 7);
    assert.deepEqual(rows, expectedWindow());
    assert.equal(tokens.length, Math.ceil(rows.length / 7));
    assert.equal(tokens[tokens.length - 1], null);
    assert.ok(tokens.slice(0, -1).every((t) => typeof t === 'string' && t.length > 0));
    // Same query, same tokens.
    assert.deepEqual((await messageLogAll(WINDOW, 7)).tokens, tokens);
    const one = await messageLogAll(WINDOW, 100000);
    assert.deepEqual(one.rows, rows);
    assert.deepEqual(one.tokens, [null]);
  });

  it('rows are the tracking log events that were sent, delivered or opened', () => {
    const tracking = pushwooshTrackingRows(APP, '2026-10-10', PER_DAY);
    const log = pushwooshMessageLogRows(APP, '2026-10-10', PER_DAY);
    assert.deepEqual(
      log.map((e) => e.trackingIndex),
      tracking.flatMap((r, i) =>
        ['sent', 'delivered', 'opened'].includes(r.expected.status) ? [i] : [],
      ),
    );
    for (const e of log) {
      const t = tracking[e.trackingIndex].expected;
      assert.equal(e.row.hwid, t.hwid);
      assert.equal(e.row.action, t.status);
      assert.equal(e.row.application_code, APP);
      assert.equal(e.expected.timestamp, `${t.timestamp.slice(0, 19)}.000Z`);
      assert.equal(e.row.timestamp, t.timestamp.slice(0, 19).replace('T', ' '));
      assert.match(e.row.message_code, /^[0-9A-F]{4}-[0-9A-F]{8}-[0-9A-F]{8}$/);
      assert.equal(typeof e.row.message_id, 'number');
    }
  });

  it('/json/1.3/getMessageLog: body auth, status envelope, same rows', async () => {
    const res = await rpc('getMessageLog', { auth: TOKEN, ...WINDOW, limit: 100000 });
    assert.equal(res.status, 200);
    const body = json<{ status_code: number; response: LogPage }>(res);
    assert.equal(body.status_code, 200);
    assert.deepEqual(body.response.result, expectedWindow());
    assert.equal(body.response.pagination_token, null);
    // The v2 path takes the `{"request":{…}}` wrapper and body auth too.
    const v2 = await requestJson(V2(), JSON.stringify({ request: { auth: TOKEN, ...WINDOW } }));
    assert.deepEqual(json<LogPage>(v2).result, expectedWindow());
  });

  it('filters: actions, platforms, hwid, message_code, application_code', async () => {
    const all = expectedWindow();
    const page = async (q: Record<string, unknown>) => {
      const res = await requestJson(V2(), JSON.stringify({ ...WINDOW, ...q }), tokenHeader());
      assert.equal(res.status, 200, res.text);
      return json<LogPage>(res).result;
    };
    assert.deepEqual(
      await page({ actions: ['opened'] }),
      all.filter((r) => r.action === 'opened'),
    );
    assert.deepEqual(
      await page({ platforms: ['ios'] }),
      all.filter((r) => r.platform === 'ios'),
    );
    const hw = all[0].hwid;
    assert.deepEqual(
      await page({ hwid: hw }),
      all.filter((r) => r.hwid === hw),
    );
    assert.deepEqual(
      await page({ hwid: [hw] }),
      all.filter((r) => r.hwid === hw),
    );
    const mc = all[0].message_code;
    assert.deepEqual(
      await page({ message_code: mc }),
      all.filter((r) => r.message_code === mc),
    );
    for (const app of APPS)
      assert.deepEqual(await page({ application_code: app }), expectedWindow(app), app);
  });

  it('application_code: one application of the account; its pages do not serve another', async () => {
    const [first, second] = APPS;
    const rowsOf = async (q: Record<string, unknown>) =>
      json<LogPage>(
        await requestJson(V2(), JSON.stringify({ ...WINDOW, ...q, limit: 100000 }), tokenHeader()),
      ).result;
    const all = await rowsOf({});
    const times = all.map((r) => r.timestamp);
    assert.deepEqual(times, [...times].sort(), 'merged in time order');
    let total = 0;
    for (const app of APPS) {
      const own = await rowsOf({ application_code: app });
      assert.ok(own.length > 0);
      assert.deepEqual(
        own,
        all.filter((r) => r.application_code === app),
        app,
      );
      total += own.length;
    }
    assert.equal(total, all.length);
    const query = (app: string, token?: string) =>
      requestJson(
        V2(),
        JSON.stringify({ ...WINDOW, application_code: app, limit: 2, pagination_token: token }),
        tokenHeader(),
      );
    const p1 = json<LogPage>(await query(first));
    assert.ok(p1.result.every((r) => r.application_code === first));
    const foreign = await query(second, p1.pagination_token!);
    assert.equal(foreign.status, 400, 'a token belongs to its application');
    assert.match(json<{ error: string }>(foreign).error, /pagination_token/);
  });

  it('at most 30 days between date_from and date_to', async () => {
    const ok = await requestJson(
      V2(),
      JSON.stringify({
        date_from: '2026-09-15 12:00:00',
        date_to: '2026-10-15 12:00:00',
        limit: 1,
      }),
      tokenHeader(),
    );
    assert.equal(ok.status, 200, ok.text);
    const tooLong = await requestJson(
      V2(),
      JSON.stringify({ date_from: '2026-09-15 11:59:59', date_to: '2026-10-15 12:00:00' }),
      tokenHeader(),
    );
    assert.equal(tooLong.status, 400);
    assert.deepEqual(json(tooLong), { error: PUSHWOOSH_INTERVAL_ERROR });
  });

  it('errors: account not found, non-custom plan, bad limit, token, dates, no filter', async () => {
    const err = async (body: unknown, headers: Record<string, string>, status: number) => {
      const res = await requestJson(V2(), JSON.stringify(body), headers);
      assert.equal(res.status, status, res.text);
      return json<{ error: string }>(res).error;
    };
    assert.equal(
      await err(WINDOW, tokenHeader('pw-token-unknown'), 400),
      PUSHWOOSH_ACCOUNT_NOT_FOUND,
    );
    assert.equal(await err(WINDOW, {}, 400), PUSHWOOSH_ACCOUNT_NOT_FOUND);
    assert.equal(
      await err({ ...WINDOW, application_code: 'ZZZZZ-ZZZZZ' }, tokenHeader(), 400),
      PUSHWOOSH_ACCOUNT_NOT_FOUND,
    );
    assert.equal(await err(WINDOW, tokenHeader(OTHER.apiToken), 403), PUSHWOOSH_NOT_CUSTOM_PLAN);
    assert.match(await err({ ...WINDOW, limit: 100001 }, tokenHeader(), 400), /limit/);
    assert.match(await err({ ...WINDOW, limit: 0 }, tokenHeader(), 400), /limit/);
    assert.match(
      await err({ ...WINDOW, pagination_token: 'garbage!' }, tokenHeader(), 400),
      /pagination_token/,
    );
    const first = await requestJson(V2(), JSON.stringify({ ...WINDOW, limit: 2 }), tokenHeader());
    const token = json<LogPage>(first).pagination_token;
    assert.ok(token);
    assert.match(
      await err({ ...WINDOW, actions: ['sent'], pagination_token: token }, tokenHeader(), 400),
      /pagination_token/,
    );
    assert.match(
      await err({ date_from: '2026-10-09', date_to: 'tomorrow' }, tokenHeader(), 400),
      /date_to/,
    );
    assert.match(await err({ limit: 10 }, tokenHeader(), 400), /required/);
    assert.match(await err({ ...WINDOW, actions: ['clicked'] }, tokenHeader(), 400), /actions/);
    const bad = await requestJson(V2(), '{', tokenHeader());
    assert.equal(bad.status, 400);
  });
});

describe('pushwoosh faults', () => {
  it('route faults on every pushwoosh route', async () => {
    const id = await trackingLog('2026-10-10');
    const { url } = await fileUrlOf(id);
    const calls: Record<string, () => Promise<Res>> = {
      'pushwoosh.getTrackingLog': () => rpc('getTrackingLog', { auth: TOKEN, date: '2026-10-10' }),
      'pushwoosh.getResults': () => rpc('getResults', { auth: TOKEN, request_id: id }),
      'pushwoosh.download': () => request(url),
      'pushwoosh.getMessageLog': () => requestJson(V2(), JSON.stringify(WINDOW_ALL), tokenHeader()),
    };
    for (const [route, call] of Object.entries(calls)) {
      emu.inject({ kind: 'rate_limit', route, retryAfterSeconds: 7 });
      const limited = await call();
      assert.equal(limited.status, 429, route);
      assert.equal(limited.headers['retry-after'], '7');
      emu.inject({ kind: 'server_error', route, status: 502 });
      assert.equal((await call()).status, 502, route);
      emu.inject({ kind: 'reset_mid_body', route });
      await assert.rejects(call(), route);
      emu.inject({ kind: 'truncated_body', route });
      await assert.rejects(call(), /ended early|aborted|socket hang up/, route);
      assert.equal((await call()).status, 200, route);
    }
    assert.deepEqual(emu.pendingFaults(), []);
  });

  it('pushwoosh_argument_error answers 210 on the next matching call', async () => {
    emu.inject({ kind: 'pushwoosh_argument_error', route: 'pushwoosh.getTrackingLog' });
    assert210(await rpc('getTrackingLog', { auth: TOKEN }), 'Argument error');
    await trackingLog();
    const id = await trackingLog('2026-10-10');
    emu.inject({
      kind: 'pushwoosh_argument_error',
      route: 'pushwoosh.getResults',
      message: 'Wrong request id',
      times: 2,
    });
    assert210(await rpc('getResults', { auth: TOKEN, request_id: id }), 'Wrong request id');
    assert210(await rpc('getResults', { auth: TOKEN, request_id: id }), 'Wrong request id');
    assert.equal((await fileUrlOf(id)).pending, 2);
    emu.inject({ kind: 'pushwoosh_argument_error', route: 'pushwoosh.*', message: 'Any' });
    const v2 = await requestJson(V2(), JSON.stringify(WINDOW_ALL), tokenHeader());
    assert.deepEqual([v2.status, json(v2)], [400, { error: 'Any' }]);
    emu.inject({ kind: 'pushwoosh_argument_error', route: 'pushwoosh.getMessageLog' });
    assert210(await rpc('getMessageLog', { auth: TOKEN, ...WINDOW_ALL }), 'Argument error');
  });

  it('malformed_zip truncated_entry: a whole archive whose entry does not inflate', async () => {
    const good = (await downloadZip('2026-10-10')).raw;
    emu.inject({ kind: 'malformed_zip', variant: 'truncated_entry' });
    const res = await downloadZip('2026-10-10');
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers['content-length']), res.raw.length);
    assert.ok(res.raw.length < good.length);
    // The structure is intact: end record → central directory → local header.
    const zip = res.raw;
    const eocd = zip.length - 22;
    assert.equal(zip.readUInt32LE(eocd), 0x06054b50);
    const cd = zip.readUInt32LE(eocd + 16);
    assert.equal(zip.readUInt32LE(cd), 0x02014b50);
    assert.equal(zip.readUInt32LE(0), 0x04034b50);
    const csize = zip.readUInt32LE(18);
    const nameLen = zip.readUInt16LE(26);
    assert.equal(30 + nameLen + csize, cd);
    assert.throws(() => inflateRawSync(zip.subarray(30 + nameLen, cd)));
    assert.throws(() => unzipSync(new Uint8Array(zip)));
    // Consumed: the next download is whole again.
    assert.ok((await downloadZip('2026-10-10')).raw.equals(good));
  });

  it('malformed_zip bad_crc and truncated_archive: a wrong CRC-32, an archive cut in half', async () => {
    const good = (await downloadZip('2026-10-10')).raw;
    const crcOf = (zip: Buffer) => zip.readUInt32LE(zip.readUInt32LE(zip.length - 6) + 16);
    emu.inject({ kind: 'malformed_zip', variant: 'bad_crc' });
    const badCrc = (await downloadZip('2026-10-10')).raw;
    assert.equal(badCrc.length, good.length);
    assert.equal(crcOf(badCrc), (crcOf(good) ^ 1) >>> 0);
    assert.equal(badCrc.readUInt32LE(14), crcOf(badCrc), 'local header and central record agree');
    const content = Buffer.from(unzipSync(new Uint8Array(badCrc))[PUSHWOOSH_TRACKING_ENTRY]);
    assert.equal(crc32(content), crcOf(good));
    emu.inject({ kind: 'malformed_zip', variant: 'truncated_archive' });
    const cut = await downloadZip('2026-10-10');
    assert.equal(Number(cut.headers['content-length']), cut.raw.length);
    assert.ok(cut.raw.equals(good.subarray(0, Math.floor(good.length / 2))));
  });

  it('malformed_zip bad_payload and bad_timestamp damage exactly one row', async () => {
    const expected = pushwooshTrackingRows(APPS, '2026-10-10', PER_DAY).map((r) => r.cells);
    emu.inject({ kind: 'malformed_zip', variant: 'bad_payload' });
    const badPayload = parseCsv(csvOf((await downloadZip('2026-10-10')).raw));
    const diffP = badPayload.flatMap((r, i) =>
      JSON.stringify(r) === JSON.stringify(expected[i]) ? [] : [i],
    );
    assert.equal(diffP.length, 1);
    const p = badPayload[diffP[0]];
    assert.deepEqual(p.slice(0, 7), expected[diffP[0]].slice(0, 7));
    assert.throws(() => JSON.parse(p[7]));
    assert.equal(p[6], APP, "the damaged row is of the account's first application");

    emu.inject({ kind: 'malformed_zip', variant: 'bad_timestamp' });
    const badTs = parseCsv(csvOf((await downloadZip('2026-10-10')).raw));
    const diffT = badTs.flatMap((r, i) =>
      JSON.stringify(r) === JSON.stringify(expected[i]) ? [] : [i],
    );
    assert.equal(diffT.length, 1);
    assert.equal(badTs[diffT[0]][0], '20/04/2021');
    assert.equal(badTs[diffT[0]][6], APP);
    assert.deepEqual(badTs[diffT[0]].slice(1), expected[diffT[0]].slice(1));
  });

  it('rejects malformed new faults', async () => {
    const bad = [
      { kind: 'pushwoosh_pending' },
      { kind: 'pushwoosh_pending', polls: 0 },
      { kind: 'pushwoosh_argument_error' },
      { kind: 'pushwoosh_argument_error', route: 'pushwoosh.getResults', message: 5 },
      { kind: 'malformed_zip', variant: 'zip_bomb' },
    ];
    for (const f of bad) assert.throws(() => emu.inject(f as unknown as Fault), JSON.stringify(f));
    const res = await request(`${emu.apiUrl}/__emulator/faults`, {
      method: 'POST',
      body: JSON.stringify([{ kind: 'malformed_zip', variant: 'bad_timestamp', times: 2 }]),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(emu.pendingFaults(), [
      { kind: 'malformed_zip', variant: 'bad_timestamp', times: 2 },
    ]);
  });
});

const WINDOW_ALL = { date_from: '2026-10-09 00:00:00', date_to: '2026-10-11 00:00:00' };

describe('pushwoosh answer variants', () => {
  /** Runs `fn` against a fresh emulator with these variants (and one pending poll per job). */
  async function withVariants(
    variants: EmulatorOptions['pushwoosh'],
    fn: (e: Emulator) => Promise<void>,
  ) {
    const e = await Emulator.start({
      now: () => new Date(NOW),
      pushwoosh: { eventsPerDay: PER_DAY, pendingPolls: 1, ...variants },
    });
    try {
      await fn(e);
    } finally {
      await e.close();
    }
  }
  const call = (e: Emulator, path: string, request: Record<string, unknown>) =>
    requestJson(`${e.apiUrl}/json/1.3/${path}`, JSON.stringify({ request }));
  const parsed = (res: Res): unknown =>
    res.text === '' || /^text\/plain/.test(String(res.headers['content-type']))
      ? res.text || undefined
      : JSON.parse(res.text);
  async function job(e: Emulator) {
    const r = await call(e, 'getTrackingLog', { auth: TOKEN, date: '2026-10-10' });
    const id = json<{ response: { request_id: string } }>(r).response.request_id;
    const poll = () => call(e, 'getResults', { auth: TOKEN, request_id: id });
    return { id, poll };
  }

  const env = (status_code: unknown, status_message: string, response: unknown) => ({
    status_code,
    status_message,
    response,
  });
  const PENDING: Record<PushwooshPendingVariant, [number, unknown]> = {
    status210: [200, env(210, PUSHWOOSH_PENDING_MESSAGE, null)],
    status210Processing: [200, env(210, 'Request is being processed', null)],
    status202: [200, env(202, 'Accepted', null)],
    status0: [200, env(0, '', null)],
    status100: [200, env(100, 'Continue', null)],
    string200NoFile: [200, env('200', 'OK', {})],
    okNoFile: [200, env(200, 'OK', {})],
    okNullFile: [200, env(200, 'OK', { fileName: null })],
    okEmptyFile: [200, env(200, 'OK', { fileName: '' })],
    responseNull: [200, env(200, 'OK', null)],
    responseStatusPending: [200, env(200, 'OK', { status: 'pending' })],
    responseStatusQueued: [200, env(200, 'OK', { status: 'queued' })],
    statusProcessing: [200, { status: 'processing' }],
    statusInProgress: [200, { status_code: 200, status: 'in_progress' }],
    http202Empty: [202, undefined],
    http204: [204, undefined],
    http210: [210, env(210, PUSHWOOSH_PENDING_MESSAGE, null)],
    plainText: [200, PUSHWOOSH_PENDING_MESSAGE],
    echoRequest: [200, env(202, 'Accepted', { request: { auth: TOKEN, request_id: '<id>' } })],
  };

  it('pendingVariant: each shape while the job runs, then the ready answer', async () => {
    assert.deepEqual(Object.keys(PENDING).sort(), [...PUSHWOOSH_PENDING_VARIANTS].sort());
    for (const v of PUSHWOOSH_PENDING_VARIANTS) {
      await withVariants({ pendingVariant: v }, async (e) => {
        const { id, poll } = await job(e);
        const first = await poll();
        const [status, body] = PENDING[v];
        assert.equal(first.status, status, v);
        const want = body === undefined ? undefined : JSON.stringify(body).replace('<id>', id);
        assert.deepEqual(parsed(first), want && JSON.parse(want), v);
        const ready = json<{ response: { fileName: string } }>(await poll());
        assert.equal(ready.response.fileName, `${e.filesUrl}/pushwoosh/tracking_log/${id}.zip`);
      });
    }
  });

  it('readyVariant: the link under each name, or protocol-relative; it downloads', async () => {
    for (const v of PUSHWOOSH_READY_VARIANTS) {
      await withVariants({ readyVariant: v, pendingPolls: 0 }, async (e) => {
        const { id, poll } = await job(e);
        const body = json<{ status_code: unknown; response: Record<string, string> }>(await poll());
        const url = `${e.filesUrl}/pushwoosh/tracking_log/${id}.zip`;
        const expected: Record<PushwooshReadyVariant, [string, string]> = {
          fileName: ['fileName', url],
          file_name: ['file_name', url],
          url: ['url', url],
          link: ['link', url],
          fileUrl: ['fileUrl', url],
          protocolRelative: ['fileName', url.replace('http:', '')],
          stringCode: ['fileName', url],
        };
        assert.deepEqual(Object.entries(body.response), [expected[v]], v);
        assert.equal(body.status_code, v === 'stringCode' ? '200' : 200);
        assert.equal((await request(url)).status, 200);
      });
    }
  });

  type Page = Record<string, Record<string, unknown>>;
  interface LogShape {
    rows: (b: Page) => unknown;
    token: (b: Page) => unknown;
    time: string;
    action: string;
  }
  const DEFAULT_LOG: LogShape = {
    rows: (b) => b.response?.result ?? b.result,
    token: (b) => (b.response ? b.response.pagination_token : b.pagination_token),
    time: 'timestamp',
    action: 'action',
  };
  /** Where each variant puts rows and token, and the row with its time and action renamed. */
  const LOG: Record<PushwooshMessageLogVariant, LogShape> = {
    default: DEFAULT_LOG,
    nullWhenEmpty: DEFAULT_LOG,
    resultTop: {
      rows: (b) => b.result,
      token: (b) => b.pagination_token,
      time: 'time',
      action: 'action',
    },
    rows: {
      rows: (b) => b.response.rows,
      token: (b) => b.response.next,
      time: 'datetime',
      action: 'status',
    },
    items: { rows: (b) => b.items, token: (b) => b.next_token, time: 'date', action: 'event' },
    data: {
      rows: (b) => b.response.data,
      token: (b) => b.pagination_token,
      time: 'created_at',
      action: 'action',
    },
  };
  const TIME: Record<PushwooshMessageLogVariant, (ts: string) => unknown> = {
    default: (ts) => ts,
    nullWhenEmpty: (ts) => ts,
    resultTop: (ts) => `${ts} UTC`,
    rows: (ts) => `${ts.replace(' ', 'T')}Z`,
    items: (ts) => Date.parse(`${ts.replace(' ', 'T')}Z`) / 1000,
    data: (ts) => Date.parse(`${ts.replace(' ', 'T')}Z`),
  };

  it('messageLogVariant and messageLogPageCap: rows, token and row fields in each shape', async () => {
    const day = '2026-10-10';
    const want = pushwooshMessageLogRows(APPS, day, PER_DAY).map((x) => x.row);
    for (const v of PUSHWOOSH_MESSAGE_LOG_VARIANTS) {
      await withVariants({ messageLogVariant: v, messageLogPageCap: 7 }, async (e) => {
        for (const path of ['/api/v2/statistics/getMessageLog', '/json/1.3/getMessageLog']) {
          const got: Record<string, unknown>[] = [];
          let token: unknown = undefined;
          let pages = 0;
          do {
            const request = {
              auth: TOKEN,
              date_from: `${day} 00:00:00`,
              date_to: '2026-10-11',
              limit: 1000,
            };
            const res = await requestJson(
              `${e.apiUrl}${path}`,
              JSON.stringify({
                request: token ? { ...request, pagination_token: token } : request,
              }),
            );
            assert.equal(res.status, 200, res.text);
            const body = json<Record<string, Record<string, unknown>>>(res);
            const rows = LOG[v].rows(body) as Record<string, unknown>[];
            assert.ok(rows.length <= 7);
            got.push(...rows);
            token = LOG[v].token(body);
            pages++;
          } while (token);
          assert.equal(token, null, `${v} ${path}: the last page's token is null`);
          assert.equal(pages, Math.ceil(want.length / 7));
          const { time, action } = LOG[v];
          assert.deepEqual(
            got,
            want.map(({ timestamp, action: a, message_id, ...rest }) => ({
              [time]: TIME[v](timestamp),
              ...rest,
              message_id: v === 'resultTop' || v === 'rows' ? String(message_id) : message_id,
              [action]: a,
            })),
            `${v} ${path}`,
          );
        }
      });
    }
  });

  it('messageLogVariant nullWhenEmpty: a page without rows has result null', async () => {
    await withVariants({ messageLogVariant: 'nullWhenEmpty', eventsPerDay: 0 }, async (e) => {
      const window = { date_from: '2026-10-09 00:00:00', date_to: '2026-10-10 00:00:00' };
      const res = await requestJson(
        `${e.apiUrl}/api/v2/statistics/getMessageLog`,
        JSON.stringify(window),
        tokenHeader(),
      );
      assert.deepEqual(json(res), { result: null, pagination_token: null });
    });
  });

  it('an unknown variant name is refused', async () => {
    for (const bad of [
      { pendingVariant: 'sometimes' },
      { readyVariant: 'ftp' },
      { messageLogVariant: 'csv' },
      { messageLogPageCap: 0 },
    ]) {
      await assert.rejects(
        Emulator.start({ pushwoosh: bad as PushwooshVariants }),
        /pushwoosh\.(pendingVariant|readyVariant|messageLogVariant|messageLogPageCap)/,
      );
    }
  });
});
