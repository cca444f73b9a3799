/**
 * OneSignal's export lifecycle against the emulator, with the real CLI: stops while the next
 * export is in flight (SIGKILL, SIGTERM), a failing stream, canceled and never-finishing messages,
 * the cursor's precision, an app with a revoked key, an export request answered 5xx after it
 * started the export, and a refusal's Retry-After.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CONNECTOR_BIN,
  type Message,
  records,
  runConnector,
  type RunResult,
  stateFileOf,
  states,
  statuses,
  writeJsonFiles,
} from '../../emulator/harness';
import type { OneSignalAccountFixture, OneSignalMessageFixture } from '../../emulator/onesignal';
import { Emulator, type EmulatorOptions } from '../../emulator/server';
import { appKey } from '../../src/providers/onesignal/messages';
import { signalAndWait, until, watch } from '../support/child';
import { errorsOf, FAST_ENV, logsOf } from '../support/e2e';

const EVENTS = 'onesignal_message_events';
const MESSAGES = 'onesignal_messages';
const NOW_S = Math.floor(Date.now() / 1000);
const DAY_S = 86_400;
const APP = (n: number) => `5e1f0000-0000-4000-8000-0000000a000${n}`;
const KEY = (n: number) => `os-key-lifecycle-${n}-${'q'.repeat(40)}`;
const MSG = (n: number) => `5e1f0000-0000-4000-8000-0000000b000${n}`;

const done = (
  n: number,
  agoS: number,
  events: number,
  extra: Partial<OneSignalMessageFixture> = {},
): OneSignalMessageFixture => ({
  id: MSG(n),
  sendAfter: NOW_S - agoS,
  completedAt: NOW_S - agoS + 60,
  remaining: 0,
  events,
  ...extra,
});

const accountOf = (messages: OneSignalMessageFixture[], apps = 1): OneSignalAccountFixture => ({
  accountId: 'acct-lifecycle',
  apps: Array.from({ length: apps }, (_, i) => ({
    appId: APP(i),
    apiKey: KEY(i),
    messages: i === 0 ? messages : messages.map((m) => ({ ...m, id: m.id.replace('b', 'c') })),
  })),
});

const catalogOf = (...names: string[]) => ({
  streams: names.map((name) => ({
    stream: { name, json_schema: {}, supported_sync_modes: ['incremental'] },
    sync_mode: 'incremental',
    destination_sync_mode: 'append_dedup',
  })),
});

describe('OneSignal: the export lifecycle', () => {
  const work = mkdtempSync(join(tmpdir(), 'spdm-lifecycle-'));
  let n = 0;
  let emu: Emulator | undefined;
  after(async () => {
    await emu?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function start(account: OneSignalAccountFixture, extra: EmulatorOptions['onesignal'] = {}) {
    await emu?.close();
    emu = await Emulator.start({
      onesignal: { accounts: [account], recordsPerSecond: 500_000, rateLimitWindowMs: 5, ...extra },
    });
    return emu;
  }
  const config = (apps = 1, extra: Record<string, unknown> = {}) => ({
    start_date: new Date((NOW_S - 10 * DAY_S) * 1000).toISOString().slice(0, 10),
    onesignal: {
      apps: Array.from({ length: apps }, (_, i) => ({ app_id: APP(i), api_key: KEY(i) })),
      api_url: emu!.apiUrl,
    },
    ...extra,
  });
  const argsOf = (cfg: unknown, state?: unknown, streams = [EVENTS]) => {
    const f = writeJsonFiles(join(work, String(++n)), {
      'config.json': cfg,
      'catalog.json': catalogOf(...streams),
      ...(state ? { 'state.json': state } : {}),
    });
    return [
      'read',
      '--config',
      f['config.json'],
      '--catalog',
      f['catalog.json'],
      ...(state ? ['--state', f['state.json']] : []),
    ];
  };
  const read = (cfg: unknown, state?: unknown, streams = [EVENTS], env = FAST_ENV) =>
    runConnector(argsOf(cfg, state, streams), { env });
  const exportsOf = (id: string, status?: number) =>
    emu!.requests.filter(
      (r) =>
        r.route === 'onesignal.export' &&
        r.path.includes(id) &&
        (status === undefined || r.status === status),
    );
  const stateLines = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.includes('"STATE"'))
      .map((l) => JSON.parse(l) as Message);
  const asFile = (m: Message) => [{ type: 'STREAM', stream: m.state.stream }];
  const ok = (r: RunResult) => assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
  /** The sync after `first`, without lookback, reads nothing and requests no export. */
  const nothingAgain = async (first: RunResult) => {
    ok(first);
    const before = emu!.requests.length;
    const again = await read(config(1, { lookback_days: 0 }), stateFileOf(first), [
      EVENTS,
      MESSAGES,
    ]);
    ok(again);
    assert.equal(records(again).length, 0, 'nothing is read again');
    const exports = emu!.requests.slice(before).filter((x) => x.route === 'onesignal.export');
    assert.equal(exports.length, 0, 'no export');
  };

  /** A file held back (for an hour) until `release`. */
  const HELD = 3_600_000;
  const release = (m: OneSignalMessageFixture, inMs = 0) => {
    const asked = emu!.requests.find(
      (r) => r.route === 'onesignal.export' && r.path.includes(m.id),
    );
    m.generationMs = asked ? Date.now() - asked.at + inMs : inMs;
  };
  // Message 0 is large (its parse takes a while), message 1's file is held back: while 0 is
  // parsed, and after, 1 is in flight.
  const runAheadFixture = () =>
    accountOf([
      done(0, 3 * DAY_S, 20_000),
      done(1, 2 * DAY_S, 2_000, { generationMs: HELD }),
      done(2, DAY_S, 500),
    ]);
  const allRows = 22_500;

  it('item 1: a SIGKILL while the next export is in flight (cursor before N, N+1 in flight) does not lock the account', async () => {
    const account = runAheadFixture();
    await start(account);
    const child = watch([process.execPath, CONNECTOR_BIN, ...argsOf(config())], {
      env: FAST_ENV,
    });
    // The state that says "nothing of message 0 done, message 1 in flight".
    const stopState = () =>
      stateLines(child.stdout()).find((m) => {
        const text = JSON.stringify(m.state.stream.stream_state);
        return text.includes(MSG(1)) && text.includes('in_flight') && !text.includes('sent_at');
      });
    await until('a state with message 1 in flight and no cursor', () => !!stopState());
    const state = stopState()!;
    await signalAndWait(child, 'SIGKILL');
    release(account.apps[0].messages[1], 500);
    // Ten minutes of connector time are 6 s here; message 1's file is ready in 0.5 s.
    const r = await read(config(1, { export_timeout_minutes: 10 }), asFile(state));
    ok(r);
    assert.equal(records(r, EVENTS).length, allRows, 'every message, every row');
    // Message 1's export was picked up, never requested again.
    assert.equal(exportsOf(MSG(1), 200).length, 1);
    assert.ok(logsOf(r, 'INFO').some((l) => /picking up the export of message/.test(l)));
    assert.doesNotMatch(JSON.stringify(states(r, EVENTS).at(-1)), /in_flight/);
  });

  it("item 2: a SIGTERM right after message N's checkpoint keeps N+1's export recorded", async () => {
    const account = runAheadFixture();
    await start(account);
    const child = watch([process.execPath, CONNECTOR_BIN, ...argsOf(config())], {
      env: FAST_ENV,
    });
    await until('the first cursor state', () =>
      stateLines(child.stdout()).some((m) => JSON.stringify(m).includes('message_sent_at')),
    );
    const { code } = await signalAndWait(child, 'SIGTERM');
    assert.equal(code, 143);
    const last = stateLines(child.stdout()).at(-1)!;
    assert.match(JSON.stringify(last), new RegExp(MSG(1)), 'message 1 is in the last state');
    release(account.apps[0].messages[1], 500);
    const r = await read(config(1, { lookback_days: 0, export_timeout_minutes: 5 }), asFile(last));
    ok(r);
    assert.equal(records(r, EVENTS).length, 2_500, 'messages 1 and 2');
    assert.equal(exportsOf(MSG(1), 200).length, 1, 'message 1 was picked up');
  });

  it('item 2: a saved export not ready is polled at least 1 s apart, also right after the first check', async () => {
    const account = accountOf([
      done(0, 2 * DAY_S, 2_000, { generationMs: HELD }),
      done(1, DAY_S, 100),
    ]);
    await start(account);
    const child = watch([process.execPath, CONNECTOR_BIN, ...argsOf(config())], {
      env: FAST_ENV,
    });
    await until('a state with message 0 in flight', () =>
      stateLines(child.stdout()).some((m) => JSON.stringify(m).includes(MSG(0))),
    );
    await signalAndWait(child, 'SIGTERM');
    const last = stateLines(child.stdout()).at(-1)!;
    const before = emu!.requests.length;
    const polls = () =>
      emu!.requests
        .slice(before)
        .filter((x) => x.route === 'onesignal.download' && x.path.includes(MSG(0)))
        .map((x) => x.at);
    // At half of real time, 1 s of connector time is 500 ms.
    const sync = read(config(), asFile(last), [EVENTS], { SOURCE_PDM_TIME_SCALE: '0.5' });
    // The file is released 1.5 s after the sync's first check found it missing.
    await until('the first check of the saved file', () => polls().length > 0);
    release(account.apps[0].messages[0], 1500);
    const r = await sync;
    ok(r);
    assert.equal(records(r, EVENTS).length, 2_100);
    const times = polls();
    assert.ok(times.length >= 2, `the saved file was checked again (${times.length})`);
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i] - times[i - 1] >= 480, `re-polled after ${times[i] - times[i - 1]} ms`);
  });

  it("a 0.2.0 state's per-app export_in_flight note is read, moved under the account and picked up", async () => {
    await start(accountOf([done(0, 2 * DAY_S, 1_000), done(1, DAY_S, 500)]));
    // What 0.2.0 saved for an export it had requested (here requested by the test itself).
    const res = await fetch(
      `${emu!.apiUrl}/notifications/${MSG(1)}/export_events?app_id=${APP(0)}`,
      {
        method: 'POST',
        headers: { Authorization: `Key ${KEY(0)}` },
      },
    );
    const { csv_file_url: url } = (await res.json()) as { csv_file_url: string };
    const requestedAt = new Date().toISOString();
    const appState = appKey(APP(0));
    const old = [
      {
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: EVENTS },
          stream_state: {
            apps: {
              [appState]: {
                export_in_flight: {
                  message_id: MSG(1),
                  file: url.split(APP(0)).join('{app_id}'),
                  requested_at: requestedAt,
                },
              },
            },
          },
        },
      },
    ];
    const r = await read(config(1, { export_timeout_minutes: 1 }), old);
    ok(r);
    assert.equal(records(r, EVENTS).length, 1_500);
    assert.equal(exportsOf(MSG(1), 200).length, 1, "the test's own request, no other");
    assert.doesNotMatch(JSON.stringify(states(r, EVENTS)), /"export_in_flight"/);
    assert.doesNotMatch(JSON.stringify(states(r, EVENTS).at(-1)), /in_flight/);
  });

  it('item 3: a stream that fails leaves no export holding the slot unrecorded', async () => {
    const account = accountOf([
      done(0, 2 * DAY_S, 3_000),
      done(1, DAY_S, 2_000, { generationMs: 300 }),
    ]);
    await start(account);
    // Message 0's file lacks a required column: the app fails while message 1 is in flight.
    emu!.inject({ kind: 'malformed_csv', variant: 'missing_column' });
    const failed = await read(config());
    assert.equal(failed.code, 1);
    const last = stateFileOf(failed);
    const file1 = emu!.requests.some(
      (x) => x.route === 'onesignal.download' && x.path.includes(MSG(1)) && x.status === 200,
    );
    assert.ok(
      file1 || JSON.stringify(last).includes(MSG(1)),
      "message 1's export was downloaded (slot freed) or is in the last state",
    );
    account.apps[0].messages[1].generationMs = 0;
    // One minute of connector time is 0.6 s: a slot held by a forgotten export would fail this.
    const r = await read(config(1, { export_timeout_minutes: 1 }), last);
    ok(r);
    assert.equal(records(r, EVENTS).length, 5_000);
  });

  it('item 4: canceled and never-finishing messages are final for the cursor (both streams)', async () => {
    await start(
      accountOf([
        done(0, 6 * DAY_S, 200),
        // Unfinished 5 days after its send time: past the 72-hour bound.
        { ...done(1, 5 * DAY_S, 100), completedAt: null, remaining: 40 },
        { ...done(2, 4 * DAY_S, 100), completedAt: null, remaining: 60, canceled: true },
        done(3, DAY_S, 300),
      ]),
    );
    const first = await read(config(), undefined, [EVENTS, MESSAGES]);
    await nothingAgain(first);
    const info = logsOf(first, 'INFO');
    assert.ok(info.some((l) => new RegExp(`${MSG(2)} was canceled; it no longer holds`).test(l)));
    assert.ok(info.some((l) => new RegExp(`${MSG(1)} is still unfinished \\d+ hours`).test(l)));
  });

  it("item 5: the cursor keeps OneSignal's sub-second precision; lookback_days 0 then makes no export", async () => {
    await start(
      accountOf([
        done(0, 2 * DAY_S + 0.25, 100),
        done(1, DAY_S - 0.568951, 100),
        done(2, DAY_S - 0.998, 100),
      ]),
    );
    const first = await read(config(), undefined, [EVENTS, MESSAGES]);
    await nothingAgain(first);
    const cursor = JSON.stringify(states(first, EVENTS).at(-1)!.state.stream.stream_state);
    assert.match(cursor, /T\d\d:\d\d:\d\d\.\d{6}Z/, 'microseconds');
  });

  it('item 6: an app with a revoked key fails alone; the others sync (both streams)', async () => {
    await start(accountOf([done(0, 2 * DAY_S, 300), done(1, DAY_S, 200)], 2), {
      revokedApps: [APP(0)],
    });
    const r = await read(config(2), undefined, [EVENTS, MESSAGES]);
    assert.equal(r.code, 1);
    assert.equal(records(r, EVENTS).length, 500, "app 1's rows");
    assert.equal(records(r, MESSAGES).length, 2, "app 1's messages");
    assert.ok(records(r).every((x) => x.app_id === APP(1)));
    for (const stream of [EVENTS, MESSAGES]) {
      assert.equal(statuses(r, stream).at(-1), 'INCOMPLETE');
      const e = errorsOf(r).find((x) => x.stream_descriptor?.name === stream)!;
      assert.match(e.message, /onesignal\.apps\[0\]/);
      assert.doesNotMatch(e.message, /onesignal\.apps\[1\]/);
      assert.ok(!JSON.stringify(e).includes(KEY(0)) && !JSON.stringify(e).includes(APP(0)));
    }
  });

  it('item 7: the export request is not sent again after a 502 that started the export', async () => {
    await start(accountOf([done(0, 2 * DAY_S, 300), done(1, DAY_S, 200)]));
    emu!.inject({ kind: 'onesignal_export_lost', status: 502 });
    // Two minutes of connector time are 1.2 s: a wait for the lost export's slot would end so.
    const cfg = config(1, { export_timeout_minutes: 2 });
    const r = await read(cfg);
    assert.equal(r.code, 1);
    assert.equal(exportsOf(MSG(0)).length, 1, 'sent once');
    assert.equal(exportsOf(MSG(1)).length, 0, 'nothing more requested for the failed app');
    const [e] = errorsOf(r);
    assert.equal(e.failure_type, 'transient_error');
    assert.match(e.message, /HTTP 502.*not sent again/);
    // The export that may exist is recorded (without a file URL) for the next sync.
    const last = stateFileOf(r);
    assert.match(JSON.stringify(last), /"file":null/);
    const next = await read(cfg, last);
    assert.equal(next.code, 1);
    assert.match(
      errorsOf(next)[0].message,
      /whose answer was lost, most likely holds its only slot/,
    );
    assert.ok(!logsOf(next, 'WARN').some((l) => /waiting for it to end/.test(l)), 'no wait');
  });

  it("item 8: a refusal's Retry-After is honoured before the export is asked again", async () => {
    await start(accountOf([done(0, DAY_S, 300)]), {
      busyVariant: 'inProgress',
      busyRetryAfterSeconds: 30,
    });
    // Another client's export holds the slot until the test downloads its file.
    const other = await fetch(
      `${emu!.apiUrl}/notifications/${MSG(0)}/export_events?app_id=${APP(0)}`,
      {
        method: 'POST',
        headers: { Authorization: `Key ${KEY(0)}` },
      },
    );
    const { csv_file_url: url } = (await other.json()) as { csv_file_url: string };
    const sync = read(config());
    await until('two refusals', () => exportsOf(MSG(0), 429).length >= 2, 10_000);
    await (await fetch(url)).arrayBuffer();
    ok(await sync);
    // 30 s of connector time are 300 ms here.
    const times = exportsOf(MSG(0))
      .map((x) => x.at)
      .slice(1);
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i] - times[i - 1] >= 295, `asked again after ${times[i] - times[i - 1]} ms`);
  });
});
