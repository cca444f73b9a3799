import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { devNull } from 'node:os';
import * as http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { request, type Res } from '../support/http';
import { Emulator, type EmulatorOptions, validateFault } from '../../emulator/server';
import {
  ONESIGNAL_CSV_HEADER,
  onesignalEventRows,
  onesignalFixture,
  writeOneSignalExport,
  type OneSignalAccountFixture,
  type OneSignalMessageFixture,
} from '../../emulator/onesignal';

// ---------------------------------------------------------------------------------------------
// Helpers

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Res): any => JSON.parse(res.text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NOW = Date.parse('2026-11-20T12:00:00Z');
const FIX = onesignalFixture(new Date(NOW));
const [APP1, APP2] = FIX.apps;
const auth = (key: string) => ({ Authorization: `Key ${key}` });
const NO_SUCH_KEY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';
const FAST: EmulatorOptions = {
  now: () => new Date(NOW),
  onesignal: { rateLimitWindowMs: 0, recordsPerSecond: 1e9 },
};

function listUrl(e: Emulator, params: Record<string, string | number>): string {
  const q = new URLSearchParams(
    Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
  );
  return `${e.apiUrl}/notifications?${q}`;
}

function list(
  e: Emulator,
  app: { appId: string; apiKey: string },
  params: Record<string, string | number> = {},
): Promise<Res> {
  return request(listUrl(e, { app_id: app.appId, ...params }), { headers: auth(app.apiKey) });
}

function exportEvents(
  e: Emulator,
  app: { appId: string; apiKey: string },
  messageId: string,
): Promise<Res> {
  return request(
    `${e.apiUrl}/notifications/${messageId}/export_events?app_id=${encodeURIComponent(app.appId)}`,
    { method: 'POST', headers: auth(app.apiKey) },
  );
}

async function exportUrl(e: Emulator, app: OneSignalAccountFixture['apps'][number], id: string) {
  const res = await exportEvents(e, app, id);
  assert.equal(res.status, 200, res.text);
  return json(res).csv_file_url as string;
}

/** Polls the file URL until it answers 200. */
async function download(url: string, timeoutMs = 3000): Promise<Res> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(url);
    if (res.status !== 404) return res;
    if (Date.now() > end) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Downloads argv[1], gunzips it and prints its line count and first ~300 kB. */
const DOWNLOAD_CLIENT = `
const http = require('node:http');
const zlib = require('node:zlib');
http.get(process.argv[1], { agent: false }, (res) => {
  let received = 0, lines = 0, head = '';
  res.on('data', (c) => { received += c.length; });
  const text = res.pipe(zlib.createGunzip());
  text.on('data', (c) => {
    if (head.length < 300000) head += c.toString('latin1');
    for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) lines++;
  });
  text.on('end', () => {
    const length = Number(res.headers['content-length']);
    process.stdout.write(JSON.stringify({ status: res.statusCode, length, received, lines, head }));
  });
});
`;

/** Polls with HEAD, which reads nothing and so frees no export slot. */
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

/**
 * What the process holds: live heap objects and Buffers, after a full collection. RSS also counts
 * garbage not yet collected and memory freed but not returned, which V8 sizes by version and
 * which grows when CI runs other tests beside this one (RSS less the young generation reached
 * 52-71 MB on Node 26 in CI, 18 MB alone): a bound on it failed with no file held.
 */
function heldBytes(): number {
  fullGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function waitReady(url: string): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const res = await request(url, { method: 'HEAD' });
    if (res.status === 200) return Number(res.headers['content-length']);
    assert.equal(res.status, 404);
    await sleep(20);
  }
  throw new Error(`${url} not ready`);
}

/** `count` finished messages a minute apart, ids `<prefix>-0000-4000-8000-<n>`. */
function finishedMessages(count: number, prefix: string, events: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`,
    sendAfter: 1_790_000_000 + i * 60,
    completedAt: 1_790_000_000 + i * 60 + 30,
    remaining: 0,
    events,
  }));
}

const csvRows = (gz: Buffer): string[][] =>
  parse(gunzipSync(gz), { relax_column_count: true }) as string[][];

function decodeToken(token: string): { iso: string; id: string } {
  const [iso, id] = Buffer.from(token, 'base64').toString('utf8').split('#');
  return { iso, id };
}

const isoMicros = (unixSeconds: number) =>
  `${new Date(unixSeconds * 1000).toISOString().slice(0, 19)}.000000Z`;

/** An independent reading of the four timestamp forms the files use. */
function refTime(cell: string): string | null {
  if (cell === '' || cell === '-') return null;
  if (/^\d{10}$/.test(cell)) return new Date(Number(cell) * 1000).toISOString();
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/.exec(cell);
  if (m) return `${m[1]}T${m[2]}.000Z`;
  assert.match(cell, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}Z|\+00:00)$/);
  return new Date(cell).toISOString();
}

let emu: Emulator;
before(async () => {
  emu = await Emulator.start(FAST);
});
after(() => emu.close());
beforeEach(() => emu.reset());

// ---------------------------------------------------------------------------------------------

describe('onesignal fixture and auth', () => {
  it('the default fixture has one account with two apps as documented', () => {
    assert.equal(FIX.apps.length, 2);
    for (const app of FIX.apps) {
      assert.match(
        app.appId,
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.ok(app.apiKey.startsWith('os-key-') && app.apiKey.length >= 40);
    }
    const push = APP1.messages.filter((m) => (m.channel ?? 'push') === 'push');
    const finished = push.filter((m) => m.completedAt !== null);
    assert.equal(finished.length, 6);
    assert.ok(finished.every((m) => m.events >= 50 && m.events <= 3000));
    assert.ok(finished.every((m) => m.sendAfter >= NOW / 1000 - 25 * 86_400));
    const live = push.filter((m) => m.completedAt === null);
    assert.equal(live.length, 1);
    assert.ok(live[0].remaining! > 0 && live[0].sendAfter > NOW / 1000 - 12 * 3600);
    assert.equal(APP1.messages.filter((m) => m.channel === 'email').length, 1);
    assert.equal(APP2.messages.length, 3);
    assert.ok(APP2.messages.every((m) => m.events >= 10 && m.events <= 500));
    const times = FIX.apps.flatMap((a) => a.messages.map((m) => m.sendAfter));
    assert.equal(new Set(times).size, times.length);
  });

  it('answers 401 to a missing or wrong key, 400 to a missing or unknown app', async () => {
    const denied = {
      errors: [
        "Access denied.  Please include an 'Authorization: Key' header with a valid App API key.",
      ],
    };
    const url = listUrl(emu, { app_id: APP1.appId });
    for (const headers of [
      {},
      auth('os-key-wrong'),
      auth(APP2.apiKey),
      { Authorization: APP1.apiKey },
      { Authorization: `Bearer ${APP1.apiKey}` },
    ]) {
      const res = await request(url, { headers });
      assert.equal(res.status, 401);
      assert.deepEqual(json(res), denied);
    }
    for (const prefix of ['Key', 'key', 'KEY']) {
      const res = await request(url, { headers: { Authorization: `${prefix} ${APP1.apiKey}` } });
      assert.equal(res.status, 200);
    }
    const missing = await request(`${emu.apiUrl}/notifications`, { headers: auth(APP1.apiKey) });
    assert.equal(missing.status, 400);
    assert.match(json(missing).errors[0], /app_id/);
    const unknown = await request(
      listUrl(emu, { app_id: '00000000-0000-4000-8000-000000000000' }),
      {
        headers: auth(APP1.apiKey),
      },
    );
    assert.equal(unknown.status, 400);
    assert.deepEqual(json(unknown), { errors: ['app_id not found'] });
    // The /api/v1 prefix of the older API base URL works too.
    const v1 = await request(`${emu.apiUrl}/api/v1/notifications?app_id=${APP1.appId}`, {
      headers: auth(APP1.apiKey),
    });
    assert.equal(v1.status, 200);
  });
});

describe('onesignal View messages', () => {
  it('offset mode pages by queued_at descending', async () => {
    const ids: string[] = [];
    for (let offset = 0; offset < 9; offset += 3) {
      const res = await list(emu, APP1, { limit: 3, offset });
      assert.equal(res.status, 200);
      const body = json(res);
      assert.equal(body.total_count, 8);
      assert.equal(body.offset, offset);
      assert.equal(body.limit, 3);
      ids.push(...body.notifications.map((n: { id: string }) => n.id));
    }
    const byQueued = [...APP1.messages].sort(
      (a, b) => (b.queuedAt ?? b.sendAfter) - (a.queuedAt ?? a.sendAfter),
    );
    assert.deepEqual(
      ids,
      byQueued.map((m) => m.id),
    );
    // The scheduled message makes queued order differ from send order.
    const bySend = [...APP1.messages].sort((a, b) => b.sendAfter - a.sendAfter).map((m) => m.id);
    assert.notDeepEqual(ids, bySend);
    const plain = json(await list(emu, APP2));
    assert.equal(plain.limit, 50);
    assert.equal(plain.offset, 0);
    assert.equal(plain.notifications.length, 3);
  });

  it('shows each message with the documented fields', async () => {
    const body = json(await list(emu, APP1));
    for (const n of body.notifications) {
      const m = APP1.messages.find((x) => x.id === n.id)!;
      assert.equal(n.app_id, APP1.appId);
      assert.equal(n.send_after, m.sendAfter);
      assert.equal(n.queued_at, m.queuedAt ?? m.sendAfter);
      assert.equal(n.completed_at, m.completedAt);
      assert.equal(n.remaining, m.remaining);
      for (const k of ['successful', 'failed', 'errored', 'converted', 'received']) {
        assert.ok(Number.isInteger(n[k]) && n[k] >= 0, k);
      }
      assert.ok(n.successful + n.failed + n.errored + n.remaining <= m.events);
      assert.equal(n.canceled, false);
      assert.equal(typeof n.name, 'string');
      assert.equal(typeof n.contents.en, 'string');
      assert.equal(n.isEmail, m.channel === 'email');
      assert.equal(n.isSms, false);
      if (!n.isEmail) {
        const { ios, android } = n.platform_delivery_stats;
        assert.equal(ios.successful + android.successful, n.successful);
        assert.equal(ios.failed + android.failed, n.failed);
      }
    }
    const live = body.notifications.find((n: { completed_at: unknown }) => n.completed_at === null);
    assert.ok(live.remaining > 0);
  });

  it('time_offset mode pages by send_after ascending, strictly after the position', async () => {
    const sorted = [...APP1.messages].sort((a, b) => a.sendAfter - b.sendAfter);
    const ids: string[] = [];
    let offset = new Date(0).toISOString();
    const tokens: string[] = [];
    for (let page = 0; ; page++) {
      assert.ok(page < 6);
      const body = json(await list(emu, APP1, { limit: 3, time_offset: offset }));
      assert.equal(body.time_offset, offset);
      assert.equal(body.limit, 3);
      tokens.push(body.next_time_offset);
      if (body.notifications.length === 0) break;
      ids.push(...body.notifications.map((n: { id: string }) => n.id));
      const last = body.notifications[body.notifications.length - 1];
      assert.deepEqual(decodeToken(body.next_time_offset), {
        iso: isoMicros(last.send_after),
        id: last.id,
      });
      offset = body.next_time_offset;
    }
    assert.deepEqual(
      ids,
      sorted.map((m) => m.id),
    );
    // The empty page hands back the same position.
    assert.equal(tokens[tokens.length - 1], tokens[tokens.length - 2]);

    // A message exactly at an ISO time_offset is excluded; other zones are understood.
    const at = sorted[3].sendAfter * 1000;
    const from = json(await list(emu, APP1, { time_offset: new Date(at).toISOString() }));
    assert.equal(from.notifications[0].id, sorted[4].id);
    const zoned = new Date(at + 3_600_000).toISOString().replace('Z', '+01:00');
    const same = json(await list(emu, APP1, { time_offset: zoned }));
    assert.deepEqual(same.notifications, from.notifications);
    const before = json(await list(emu, APP1, { time_offset: new Date(at - 1).toISOString() }));
    assert.equal(before.notifications[0].id, sorted[3].id);
  });

  it('an empty page token picks up messages sent later', async () => {
    const messages: OneSignalMessageFixture[] = [
      {
        id: 'aaaaaaaa-0000-4000-8000-000000000001',
        sendAfter: 1_790_000_000,
        completedAt: 1_790_000_100,
        remaining: 0,
        events: 3,
      },
    ];
    const app = {
      appId: '11111111-2222-4333-8444-555555555555',
      apiKey: 'os-key-token-test-0123456789abcdefghijklmnop',
      messages,
    };
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [{ accountId: 'a', apps: [app] }] },
    });
    try {
      const first = json(await list(e, app, { time_offset: '2020-01-01T00:00:00.000Z' }));
      assert.equal(first.notifications.length, 1);
      const empty = json(await list(e, app, { time_offset: first.next_time_offset }));
      assert.deepEqual(empty.notifications, []);
      assert.equal(empty.next_time_offset, first.next_time_offset);
      // Same second as the last message but a larger id sorts after it; an older one never shows.
      messages.push(
        {
          id: 'ffffffff-0000-4000-8000-000000000002',
          sendAfter: 1_790_000_000,
          completedAt: null,
          remaining: 5,
          events: 1,
        },
        {
          id: 'bbbbbbbb-0000-4000-8000-000000000003',
          sendAfter: 1_790_000_500,
          completedAt: null,
          remaining: 5,
          events: 1,
        },
        {
          id: 'cccccccc-0000-4000-8000-000000000004',
          sendAfter: 1_700_000_000,
          completedAt: 1,
          remaining: 0,
          events: 1,
        },
      );
      const later = json(await list(e, app, { time_offset: empty.next_time_offset }));
      assert.deepEqual(
        later.notifications.map((n: { id: string }) => n.id),
        [messages[1].id, messages[2].id],
      );
      const again = json(await list(e, app, { time_offset: later.next_time_offset }));
      assert.deepEqual(again.notifications, []);
      // A pushed message can be exported too.
      assert.equal((await exportEvents(e, app, messages[2].id)).status, 200);
    } finally {
      await e.close();
    }
  });

  it('clamps limit to 50 and rejects bad paging parameters', async () => {
    const messages = finishedMessages(60, '00000000', 1);
    const app = {
      appId: '99999999-2222-4333-8444-555555555555',
      apiKey: 'os-key-limit-test-0123456789abcdefghijklmnopq',
      messages,
    };
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [{ accountId: 'a', apps: [app] }] },
    });
    try {
      const big = json(await list(e, app, { limit: 100 }));
      assert.equal(big.limit, 50);
      assert.equal(big.notifications.length, 50);
      assert.equal(big.total_count, 60);
      assert.equal(json(await list(e, app)).notifications.length, 50);
      const timed = json(await list(e, app, { limit: 500, time_offset: '2020-01-01T00:00:00Z' }));
      assert.equal(timed.notifications.length, 50);
      const rest = json(await list(e, app, { time_offset: timed.next_time_offset }));
      assert.equal(rest.notifications.length, 10);
      const bad: Record<string, string | number>[] = [
        { offset: 0, time_offset: '2020-01-01T00:00:00Z' },
        { time_offset: 'yesterday' },
        { time_offset: Buffer.from('not a token').toString('base64') },
        { limit: 'x' },
        { limit: 0 },
        { offset: -1 },
        { kind: 2 },
      ];
      for (const params of bad) {
        const res = await list(e, app, params);
        assert.equal(res.status, 400, JSON.stringify(params));
        assert.ok(Array.isArray(json(res).errors));
      }
    } finally {
      await e.close();
    }
  });

  it('limits View messages to one request per window per app, with Retry-After', async () => {
    const e = await Emulator.start({ now: FAST.now });
    try {
      assert.equal((await list(e, APP1)).status, 200);
      const limited = await list(e, APP1);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '1');
      assert.deepEqual(json(limited).errors, ['API rate limit exceeded.']);
      assert.equal(typeof json(limited).limit, 'string');
      // Per app; export_events is not a view endpoint.
      assert.equal((await list(e, APP2)).status, 200);
      assert.equal((await exportEvents(e, APP1, APP1.messages[0].id)).status, 200);
    } finally {
      await e.close();
    }
    const short = await Emulator.start({ now: FAST.now, onesignal: { rateLimitWindowMs: 150 } });
    try {
      assert.equal((await list(short, APP1)).status, 200);
      assert.equal((await list(short, APP1)).status, 429);
      await sleep(170);
      assert.equal((await list(short, APP1)).status, 200);
    } finally {
      await short.close();
    }
    // Window 0 (the shared emulator) disables the limit.
    for (let i = 0; i < 5; i++) assert.equal((await list(emu, APP1)).status, 200);
  });
});

describe('onesignal exports', () => {
  it('export_events returns a files-origin URL of the documented shape', async () => {
    const m = APP1.messages[1];
    const res = await exportEvents(emu, APP1, m.id);
    assert.equal(res.status, 200);
    const url: string = json(res).csv_file_url;
    assert.equal(url.startsWith(`${emu.filesUrl}/onesignal/csv_exports/${APP1.appId}/`), true);
    assert.match(
      url,
      new RegExp(
        `/events_audience-activity-${m.id}-push-2026-11-20T12-00-00PMUTC-[0-9a-f-]{36}\\.csv\\.gz$`,
      ),
    );
    const email = APP1.messages.find((x) => x.channel === 'email')!;
    await download(url); // frees the account's slot
    assert.match(await exportUrl(emu, APP1, email.id), /-email-.*\.csv\.gz$/);

    const unknown = await exportEvents(emu, APP1, APP2.messages[0].id);
    assert.equal(unknown.status, 404);
    assert.deepEqual(json(unknown), { errors: ['Notification not found'], success: false });
    const denied = await request(
      `${emu.apiUrl}/notifications/${m.id}/export_events?app_id=${APP1.appId}`,
      { method: 'POST', headers: auth(APP2.apiKey) },
    );
    assert.equal(denied.status, 401);
  });

  it('answers 404 NoSuchKey until the file is ready, then the gzip file of onesignalEventRows', async () => {
    const message = {
      id: 'dddddddd-0000-4000-8000-000000000001',
      sendAfter: 1_790_000_000,
      completedAt: 1_790_000_100,
      remaining: 0,
      events: 600,
    };
    const app = {
      appId: '22222222-2222-4333-8444-555555555555',
      apiKey: 'os-key-ready-test-0123456789abcdefghijklmnopq',
      messages: [message],
    };
    const e = await Emulator.start({
      onesignal: {
        accounts: [{ accountId: 'a', apps: [app] }],
        recordsPerSecond: 2000,
        rateLimitWindowMs: 0,
      },
    });
    try {
      const started = Date.now();
      const url = await exportUrl(e, app, message.id);
      const early = await request(url);
      assert.equal(early.status, 404);
      assert.equal(early.text, NO_SUCH_KEY);
      assert.match(String(early.headers['content-type']), /xml/);
      const res = await download(url);
      // 600 events at 2000 a second.
      assert.ok(Date.now() - started >= 280, `ready after ${Date.now() - started} ms`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/gzip');
      assert.equal(res.headers['content-length'], String(res.raw.length));
      assert.equal(res.headers['content-encoding'], undefined);
      const rows = csvRows(res.raw);
      assert.deepEqual(rows[0], ONESIGNAL_CSV_HEADER);
      const expected = [...onesignalEventRows(app.appId, message.id, 600)];
      assert.deepEqual(
        rows.slice(1),
        expected.map((r) => r.cells),
      );
      assert.ok(
        gunzipSync(res.raw)
          .toString()
          .split('\n')
          .every((l) => !l.endsWith('\r')),
      );
      // The file stays; requests to it carry no credentials.
      assert.equal((await request(url)).status, 200);
      const downloads = e.requests.filter((r) => r.route === 'onesignal.download');
      assert.ok(downloads.every((r) => r.origin === 'files' && !r.headers.authorization));
    } finally {
      await e.close();
    }
  });

  it('rows are deterministic, varied, and their expected values match the cells', () => {
    const rows = [...onesignalEventRows(APP1.appId, APP1.messages[2].id, 3000)];
    const again = [...onesignalEventRows(APP1.appId, APP1.messages[2].id, 10)];
    assert.deepEqual(again, rows.slice(0, 10));
    const other = [...onesignalEventRows(APP2.appId, APP1.messages[2].id, 10)];
    assert.notDeepEqual(other, again);
    const forms = new Set<string>();
    const seen = { quoted: 0, noExternal: 0, dash: 0, empty: 0, clicked: 0, failed: 0, unsub: 0 };
    const devices = new Set<string>();
    for (const { cells, expected } of rows) {
      assert.equal(cells.length, ONESIGNAL_CSV_HEADER.length);
      const [ext, sub, device, sent, delivered, clicked, osId, failed, unsub, message] = cells;
      assert.match(sub, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(expected.subscription_id, sub);
      assert.equal(expected.external_user_id, ext || null);
      assert.equal(expected.onesignal_id, osId || null);
      assert.equal(expected.device_type, device || null);
      assert.equal(expected.failure_message, message || null);
      assert.equal(expected.sent_at, refTime(sent));
      assert.equal(expected.delivered_at, refTime(delivered));
      assert.equal(expected.clicked_at, refTime(clicked));
      assert.equal(expected.failed_at, refTime(failed));
      assert.equal(expected.unsubscribed_at, refTime(unsub));
      if (sent === '-') seen.dash++;
      if (sent === '' || delivered === '') seen.empty++;
      if (sent) {
        forms.add(
          /^\d+$/.test(sent)
            ? 'unix'
            : sent.endsWith(' UTC')
              ? 'utc'
              : sent.endsWith('+00:00')
                ? 'offset'
                : 'millis',
        );
      }
      if (message.includes(',') && message.includes('"')) seen.quoted++;
      if (!ext) seen.noExternal++;
      if (expected.clicked_at) seen.clicked++;
      if (expected.failed_at) seen.failed++;
      if (expected.unsubscribed_at) seen.unsub++;
      if (expected.delivered_at) assert.ok(expected.delivered_at >= expected.sent_at!);
      devices.add(device);
    }
    assert.deepEqual([...forms].sort(), ['millis', 'offset', 'unix', 'utc']);
    for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, k);
    assert.ok(devices.has('iOS') && devices.has('Android') && devices.has('Chrome'));
    assert.ok(rows.filter((r) => r.cells[3].endsWith(' UTC')).length > rows.length / 2);
  });

  it('allows one running export per account until its file is fully downloaded', async () => {
    const [m1, m2] = APP1.messages;
    const url1 = await exportUrl(emu, APP1, m1.id);
    await waitReady(url1);
    const busy = {
      errors: [
        'Only one concurrent export is allowed per account. Please download the previous export before starting a new one.',
      ],
    };
    const second = await exportEvents(emu, APP1, m2.id);
    assert.equal(second.status, 400);
    assert.deepEqual(json(second), busy);
    assert.equal(emu.onesignalConcurrentExportViolations, 1);
    // Another app of the same account shares the slot.
    assert.equal((await exportEvents(emu, APP2, APP2.messages[0].id)).status, 400);
    assert.equal(emu.onesignalConcurrentExportViolations, 2);
    // Cut downloads do not free it.
    emu.inject({ kind: 'reset_mid_body', route: 'onesignal.download' });
    await assert.rejects(request(url1));
    emu.inject({ kind: 'truncated_body', route: 'onesignal.download' });
    await assert.rejects(request(url1));
    assert.equal((await exportEvents(emu, APP1, m2.id)).status, 400);
    assert.equal(emu.onesignalConcurrentExportViolations, 3);
    // A full download does.
    const full = await request(url1);
    assert.equal(full.status, 200);
    const url2 = await exportUrl(emu, APP1, m2.id);
    assert.equal((await download(url2)).status, 200);
    // A repeat export of a message reuses its file under a new URL; the old URL still works.
    const url3 = await exportUrl(emu, APP1, m1.id);
    assert.notEqual(url3, url1);
    assert.deepEqual((await request(url3)).raw, full.raw);
    assert.deepEqual((await request(url1)).raw, full.raw);
    assert.equal(emu.onesignalConcurrentExportViolations, 3);
    emu.reset();
    assert.equal(emu.onesignalConcurrentExportViolations, 0);
  });

  it('accounts have separate slots', async () => {
    const mk = (n: number): OneSignalAccountFixture => ({
      accountId: `acct-${n}`,
      apps: [
        {
          appId: `3333333${n}-2222-4333-8444-555555555555`,
          apiKey: `os-key-account-${n}-0123456789abcdefghijklmnopqrstuv`,
          messages: [
            {
              id: `eeeeeeee-0000-4000-8000-00000000000${n}`,
              sendAfter: 1_790_000_000 + n,
              completedAt: 1_790_000_100,
              remaining: 0,
              events: 5,
            },
          ],
        },
      ],
    });
    const accounts = [mk(1), mk(2)];
    const e = await Emulator.start({ ...FAST, onesignal: { ...FAST.onesignal, accounts } });
    try {
      for (const a of accounts) await exportUrl(e, a.apps[0], a.apps[0].messages[0].id);
      assert.equal(e.onesignalConcurrentExportViolations, 0);
    } finally {
      await e.close();
    }
  });

  it('streams a 300k-row file from disk without holding it in memory', async () => {
    const message = {
      id: 'ffffffff-0000-4000-8000-000000000300',
      sendAfter: 1_790_000_000,
      completedAt: 1_790_000_100,
      remaining: 0,
      events: 300_000,
      pregenerate: true,
    };
    const app = {
      appId: '44444444-2222-4333-8444-555555555555',
      apiKey: 'os-key-stream-test-0123456789abcdefghijklmnop',
      messages: [message],
    };
    // A warm-up first (compiled code, heap), so the baseline excludes it.
    await writeOneSignalExport(devNull, 'warm', 'up', 50_000);
    // Generation is measured too: it must stream to disk as well.
    const base = heldBytes();
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, heldBytes());
    }, 50);
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [{ accountId: 'a', apps: [app] }] },
    });
    try {
      const url = await exportUrl(e, app, message.id);
      const size = await waitReady(url);
      // The client runs in a child process, so its buffers do not count against the emulator.
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['-e', DOWNLOAD_CLIENT, url], (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      const { status, length, received, lines, head } = JSON.parse(out) as {
        status: number;
        length: number;
        received: number;
        lines: number;
        head: string;
      };
      assert.equal(status, 200);
      assert.equal(received, length);
      assert.equal(lines, message.events + 1);
      // Rows do not depend on the count, so the file starts with the rows of a shorter export.
      const firstRows = parse(head.slice(0, head.lastIndexOf('\n') + 1)) as string[][];
      const want = [...onesignalEventRows(app.appId, message.id, firstRows.length - 1)];
      assert.ok(want.length > 1000);
      assert.deepEqual(
        firstRows.slice(1),
        want.map((r) => r.cells),
      );
      assert.equal(length, size);
      assert.ok(length > 10_000_000, `file of ${length} bytes`);
      const grew = (peak - base) / 1e6;
      assert.ok(grew < 50, `the memory held grew by ${grew.toFixed(1)} MB`);
    } finally {
      clearInterval(sampler);
      await e.close();
    }
  });
});

describe('onesignal faults', () => {
  it('rate_limit and server_error on the API routes answer in OneSignal shape', async () => {
    emu.inject({ kind: 'rate_limit', route: 'onesignal.notifications', retryAfterSeconds: 7 });
    const limited = await list(emu, APP1);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '7');
    assert.deepEqual(json(limited).errors, ['API rate limit exceeded.']);
    assert.equal((await list(emu, APP1)).status, 200);

    emu.inject({ kind: 'server_error', route: 'onesignal.export', status: 502 });
    const failed = await exportEvents(emu, APP1, APP1.messages[0].id);
    assert.equal(failed.status, 502);
    assert.ok(Array.isArray(json(failed).errors));
    // The failed request started no export.
    await exportUrl(emu, APP1, APP1.messages[0].id);
    assert.equal(emu.onesignalConcurrentExportViolations, 0);
  });

  it('rate_limit and server_error on downloads answer in S3 shape', async () => {
    const url = await exportUrl(emu, APP1, APP1.messages[0].id);
    emu.inject({ kind: 'rate_limit', route: 'onesignal.download' });
    const slow = await request(url);
    assert.equal(slow.status, 429);
    assert.equal(slow.headers['retry-after'], '1');
    assert.match(slow.text, /<Code>SlowDown<\/Code>/);
    emu.inject({ kind: 'server_error', route: 'onesignal.*' });
    const broken = await request(url);
    assert.equal(broken.status, 503);
    assert.match(broken.text, /^<\?xml/);
    assert.equal((await download(url)).status, 200);
  });

  it('reset_mid_body and truncated_body cut API answers and files after about half', async () => {
    emu.inject({ kind: 'reset_mid_body', route: 'onesignal.notifications' });
    await assert.rejects(list(emu, APP1));
    emu.inject({ kind: 'truncated_body', route: 'onesignal.export' });
    await assert.rejects(exportEvents(emu, APP1, APP1.messages[2].id));
    // The cut answer still started the export, so the account's slot is taken.
    assert.equal((await exportEvents(emu, APP1, APP1.messages[2].id)).status, 400);
    emu.reset();

    const fileUrl = await exportUrl(emu, APP1, APP1.messages[2].id);
    const full = await download(fileUrl);
    for (const kind of ['reset_mid_body', 'truncated_body'] as const) {
      emu.inject({ kind, route: 'onesignal.download' });
      const got: Buffer[] = [];
      await new Promise<void>((resolve) => {
        http.get(fileUrl, { agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          if (kind === 'truncated_body') {
            assert.equal(res.headers['content-length'], String(full.raw.length));
          }
          res.on('data', (c: Buffer) => got.push(c));
          res.on('error', () => {});
          res.on('close', () => resolve());
        });
      });
      const n = Buffer.concat(got).length;
      assert.ok(
        n > 0 && n <= Math.ceil(full.raw.length / 2),
        `${kind}: ${n} of ${full.raw.length}`,
      );
    }
  });

  it('malformed_csv plants each defect in the next file only', async () => {
    const m = APP2.messages[1];
    const url = await exportUrl(emu, APP2, m.id);
    const clean = csvRows((await download(url)).raw);
    const mid = Math.floor(m.events / 2) + 1;

    emu.inject({ kind: 'malformed_csv', variant: 'bad_timestamp' });
    const bad = csvRows((await request(url)).raw);
    assert.equal(bad[mid][3], 'yesterday-ish');
    bad[mid][3] = clean[mid][3];
    assert.deepEqual(bad, clean);

    emu.inject({ kind: 'malformed_csv', variant: 'unterminated_quote' });
    const text = gunzipSync((await request(url)).raw).toString();
    assert.equal(text.split('\n')[mid][0], '"');
    assert.throws(() => parse(text));

    emu.inject({ kind: 'malformed_csv', variant: 'extra_column' });
    const extra = csvRows((await request(url)).raw);
    assert.deepEqual(extra[0], [...ONESIGNAL_CSV_HEADER, 'ip_address']);
    assert.ok(extra.slice(1).every((r) => r.length === 11 && /^\d+\.\d+\.\d+\.\d+$/.test(r[10])));

    emu.inject({ kind: 'malformed_csv', variant: 'missing_column' });
    const missing = csvRows((await request(url)).raw);
    assert.deepEqual(
      missing[0],
      ONESIGNAL_CSV_HEADER.filter((h) => h !== 'subscription_id'),
    );
    assert.deepEqual(
      missing[5],
      clean[5].filter((_, i) => i !== 1),
    );

    // Variants without meaning for OneSignal stay pending; the next file is clean again.
    emu.inject({ kind: 'malformed_csv', variant: 'bad_count' });
    assert.deepEqual(csvRows((await request(url)).raw), clean);
    assert.equal(emu.pendingFaults().length, 1);
    assert.doesNotThrow(() => validateFault({ kind: 'malformed_csv', variant: 'bad_timestamp' }));
  });
});

describe('onesignal answer variants', () => {
  const app = {
    appId: '33333333-2222-4333-8444-555555555555',
    apiKey: 'os-key-variant-test-0123456789abcdefghijklmnop',
    messages: finishedMessages(5, 'eeeeeeee', 400),
  };
  const start = (variants: EmulatorOptions['onesignal']) =>
    Emulator.start({
      now: () => new Date(NOW),
      onesignal: {
        accounts: [{ accountId: 'v', apps: [app] }],
        recordsPerSecond: 2000,
        rateLimitWindowMs: 0,
        ...variants,
      },
    });

  it('notReadyStatus 403: AccessDenied until the file is ready, and for unknown files', async () => {
    const e = await start({ notReadyStatus: 403 });
    try {
      const res = await exportEvents(e, app, app.messages[0].id);
      const url = json(res).csv_file_url as string;
      const early = await request(url);
      assert.equal(early.status, 403);
      assert.match(early.text, /<Code>AccessDenied<\/Code><Message>Access Denied<\/Message>/);
      assert.equal((await request(`${url}x`)).status, 403);
      for (let i = 0; i < 300; i++) {
        const r = await request(url);
        if (r.status === 200) break;
        assert.equal(r.status, 403);
        await sleep(20);
      }
      assert.equal((await request(url)).status, 200);
    } finally {
      await e.close();
    }
  });

  it('exportUrlField csvFileUrl names the file URL so', async () => {
    const e = await start({ exportUrlField: 'csvFileUrl' });
    try {
      const body = json(await exportEvents(e, app, app.messages[0].id));
      assert.deepEqual(Object.keys(body), ['csvFileUrl']);
      assert.match(body.csvFileUrl, /^http:\/\/127\.0\.0\.1:\d+\/onesignal\/csv_exports\//);
    } finally {
      await e.close();
    }
  });

  it('nextTimeOffset number: unix seconds of the last message, taken back as time_offset', async () => {
    const e = await start({ nextTimeOffset: 'number' });
    try {
      const ids: string[] = [];
      let offset: string | number = new Date(0).toISOString();
      for (let page = 0; page < 5; page++) {
        const body = json(await list(e, app, { limit: 2, time_offset: offset }));
        assert.equal(typeof body.next_time_offset, 'number');
        if (body.notifications.length === 0) {
          assert.equal(body.next_time_offset, offset, 'an empty page keeps the position');
          break;
        }
        ids.push(...body.notifications.map((n: { id: string }) => n.id));
        assert.equal(body.next_time_offset, body.notifications.at(-1).send_after);
        offset = body.next_time_offset;
      }
      assert.deepEqual(
        ids,
        app.messages.map((m) => m.id),
      );
    } finally {
      await e.close();
    }
  });

  it('an unknown variant is refused', async () => {
    await assert.rejects(
      start({ notReadyStatus: 500 as 404 }),
      /onesignal\.notReadyStatus must be one of/,
    );
    await assert.rejects(
      start({ nextTimeOffset: 'float' as 'number' }),
      /onesignal\.nextTimeOffset must be one of token, number/,
    );
    await assert.rejects(start({ exportUrlField: 'url' as 'csvFileUrl' }), /exportUrlField/);
  });
});

describe('onesignal temp files', () => {
  it('are deleted by reset() and close()', async () => {
    const message = {
      id: 'abababab-0000-4000-8000-000000000001',
      sendAfter: 1_790_000_000,
      completedAt: 1_790_000_100,
      remaining: 0,
      events: 2000,
      pregenerate: true,
    };
    const app = {
      appId: '55555555-2222-4333-8444-555555555555',
      apiKey: 'os-key-tempfile-test-0123456789abcdefghijklm',
      messages: [message],
    };
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [{ accountId: 'a', apps: [app] }] },
    });
    const first = e.onesignalTempDir;
    assert.ok(first && existsSync(first));
    await download(await exportUrl(e, app, message.id));
    assert.equal(readdirSync(first).length, 1);
    e.reset();
    assert.equal(existsSync(first), false);
    // Pregeneration starts again after a reset.
    const second = e.onesignalTempDir;
    assert.ok(second && second !== first);
    await download(await exportUrl(e, app, message.id));
    await e.close();
    assert.equal(existsSync(second), false);
  });
});

describe('onesignal lifecycle knobs', () => {
  it('onesignal_export_lost: the export starts (the slot is taken) yet the answer is a 502', async () => {
    const e = await Emulator.start(FAST);
    try {
      e.inject({ kind: 'onesignal_export_lost' });
      const [m1, m2] = APP1.messages;
      const lost = await exportEvents(e, APP1, m1.id);
      assert.equal(lost.status, 502);
      const next = await exportEvents(e, APP1, m2.id);
      assert.equal(next.status, 400, 'the lost export holds the slot');
      assert.match(next.text, /Only one concurrent export/);
    } finally {
      await e.close();
    }
  });

  it('busyRetryAfterSeconds: the refusal of a second export carries Retry-After', async () => {
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, busyVariant: 'inProgress', busyRetryAfterSeconds: 2 },
    });
    try {
      await exportUrl(e, APP1, APP1.messages[0].id);
      const busy = await exportEvents(e, APP1, APP1.messages[1].id);
      assert.equal(busy.status, 429);
      assert.equal(busy.headers['retry-after'], '2');
    } finally {
      await e.close();
    }
  });

  it('revokedApps: every call of that app answers 401; the others work', async () => {
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, revokedApps: [APP1.appId] },
    });
    try {
      assert.equal((await list(e, APP1)).status, 401);
      assert.equal((await exportEvents(e, APP1, APP1.messages[0].id)).status, 401);
      assert.equal((await list(e, APP2)).status, 200);
    } finally {
      await e.close();
    }
  });

  it('generationMs is read live: a held file becomes ready once released', async () => {
    const account = onesignalFixture(new Date(NOW));
    const message = account.apps[0].messages[0];
    message.generationMs = 3_600_000;
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [account] },
    });
    try {
      const url = await exportUrl(e, account.apps[0], message.id);
      await sleep(50);
      assert.equal((await request(url)).status, 404);
      message.generationMs = 0;
      assert.equal((await download(url)).status, 200);
    } finally {
      await e.close();
    }
  });

  it('a fractional sendAfter is the precise time in the token; send_after is whole seconds', async () => {
    const account = onesignalFixture(new Date(NOW));
    const message = account.apps[1].messages[0];
    message.sendAfter = Math.floor(message.sendAfter) + 0.568951;
    const e = await Emulator.start({
      ...FAST,
      onesignal: { ...FAST.onesignal, accounts: [account] },
    });
    try {
      const since = new Date((message.sendAfter - 1) * 1000).toISOString();
      const page = json(await list(e, account.apps[1], { time_offset: since, limit: 1 }));
      assert.equal(page.notifications[0].send_after, Math.floor(message.sendAfter));
      const token = Buffer.from(String(page.next_time_offset), 'base64').toString('utf8');
      assert.match(token, new RegExp(`\\.568951Z#${message.id}$`));
    } finally {
      await e.close();
    }
  });
});
