import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { OneSignalAccountFixture, OneSignalMessageFixture } from '../../emulator/onesignal';
import { records, stateFileOf, states, statuses, traces } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import { appKey } from '../../src/providers/onesignal/messages';
import {
  changedRecords,
  ConnectorSession,
  errorsOf,
  logsOf,
  nulled,
  protocolProblems,
  schemaProblems,
} from '../support/e2e';
import {
  eventsExpected,
  type OneSignalSetup,
  pagingAccount,
  pushMessagesOf,
  startOneSignal,
} from '../support/onesignal';

const STREAM = 'onesignal_message_events';
const DAY_S = 86_400;

/** The stream's states as cursors only (in-flight notes left out), consecutive repeats dropped. */
function cursorStates(r: { messages: unknown[] }): string[] {
  const out: string[] = [];
  for (const m of states(r as Parameters<typeof states>[0], STREAM)) {
    const apps = (m.state.stream.stream_state.apps ?? {}) as Record<
      string,
      { message_sent_at?: string }
    >;
    const set = Object.entries(apps).filter(([, v]) => v.message_sent_at !== undefined);
    const cursors = JSON.stringify(set.map(([k, v]) => [k, v.message_sent_at]));
    if (set.length && cursors !== out.at(-1)) out.push(cursors);
  }
  return out;
}

describe('onesignal_message_events end to end', () => {
  let emu: Emulator;
  let account: OneSignalAccountFixture;
  const session = new ConnectorSession();
  let config: Record<string, unknown>;
  let catalog: unknown;
  let discovered: { streams: { name: string; json_schema: object }[] };
  const read = (state?: unknown, cfg = config) =>
    session.run('read', { config: cfg, catalog, state });

  const nowS = () => Math.floor(Date.now() / 1000);
  /** The push messages of an app sent after `sinceS`, in send order. */
  const messagesOf = (appIndex: number, sinceS?: number) =>
    pushMessagesOf(account.apps[appIndex], sinceS);
  const expected = (appIndex: number, messages: OneSignalMessageFixture[]) =>
    eventsExpected(account.apps[appIndex].appId, messages);
  const stateFor = (entries: [number, number][]) => [
    {
      type: 'STREAM',
      stream: {
        stream_descriptor: { name: STREAM },
        stream_state: {
          apps: Object.fromEntries(
            entries.map(([i, s]) => [
              appKey(account.apps[i].appId),
              { message_sent_at: new Date(s * 1000).toISOString() },
            ]),
          ),
        },
      },
    },
  ];

  let setup: OneSignalSetup;
  before(async () => {
    setup = await startOneSignal(session, STREAM, 3);
    ({ emu, account, config, discovered, catalog } = setup);
  });
  beforeEach(() => emu.reset());
  after(() => setup.close());

  it('discover and check', async () => {
    const s = discovered.streams.find((x) => x.name === STREAM) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(s.source_defined_primary_key, [
      ['app_id'],
      ['message_id'],
      ['subscription_id'],
    ]);
    assert.deepEqual(s.default_cursor_field, ['message_sent_at']);
    const ok = await session.run('check', { config });
    assert.deepEqual(ok.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus, {
      status: 'SUCCEEDED',
    });
    const apps = (config.onesignal as { apps: { app_id: string; api_key: string }[] }).apps;
    const bad = await session.run('check', {
      config: {
        ...config,
        onesignal: {
          ...(config.onesignal as object),
          apps: [apps[0], { ...apps[1], api_key: 'os-key-wrong-wrong-wrong' }],
        },
      },
    });
    const status = bad.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    assert.equal(status.status, 'FAILED');
    assert.match(status.message, /OneSignal rejected onesignal\.apps\[1\]\.api_key .*HTTP 401/);
    assert.equal(bad.code, 0);
  });

  let full: Awaited<ReturnType<typeof read>>;
  it('full read: every push message of every app, a state after each message', async () => {
    full = await read();
    assert.equal(full.code, 0, JSON.stringify(errorsOf(full)));
    assert.deepEqual(protocolProblems(full), []);
    assert.deepEqual(schemaProblems(discovered, full), []);
    const want = [...expected(0, messagesOf(0)), ...expected(1, messagesOf(1))];
    const got = records(full, STREAM);
    assert.equal(got.length, want.length);
    assert.deepEqual(got, want);
    assert.equal(
      cursorStates(full).length,
      messagesOf(0).length + messagesOf(1).length - 1,
      'one cursor state per message (the in-progress one holds the cursor)',
    );
    // The next export's file URL is checkpointed as soon as it is requested (App ID hidden), and
    // no note is left once every file was downloaded.
    const notes = states(full, STREAM).filter((m) =>
      JSON.stringify(m).includes('exports_in_flight'),
    );
    assert.ok(notes.length >= messagesOf(0).length, 'an in-flight note per export');
    assert.ok(notes.every((m) => JSON.stringify(m).includes('/{app_id}/')));
    assert.doesNotMatch(JSON.stringify(states(full, STREAM).at(-1)), /exports_in_flight/);
    assert.deepEqual(statuses(full, STREAM), ['STARTED', 'RUNNING', 'COMPLETE']);
    // OneSignal's rules: one export at a time, no key on the file URL, the view rate limit met.
    assert.equal(emu.onesignalConcurrentExportViolations, 0);
    for (const r of emu.requests.filter((x) => x.origin === 'files'))
      assert.equal(r.headers.authorization, undefined);
    assert.equal(
      emu.requests.filter((x) => x.status === 429).length,
      0,
      'the client-side limiter kept to the rate limit',
    );
    assert.ok(traces(full, 'ESTIMATE').length >= 1);
    assert.ok(logsOf(full, 'INFO').some((l) => /exporting message .* \(about \d+ rows/.test(l)));
    // Polite polling: re-polls of one file at least 1 s apart (10 ms at the tests' time scale).
    const byUrl = new Map<string, number[]>();
    for (const r of emu.requests.filter((x) => x.route === 'onesignal.download'))
      byUrl.set(r.path, [...(byUrl.get(r.path) ?? []), r.at]);
    let repolls = 0;
    for (const times of byUrl.values()) {
      for (let i = 1; i < times.length; i++, repolls++)
        assert.ok(times[i] - times[i - 1] >= 9, `re-polled after ${times[i] - times[i - 1]} ms`);
    }
    assert.ok(repolls > 0, 'some file was polled more than once');
  });

  it('the cursor stops before a message still being delivered', () => {
    const inProgress = messagesOf(0).find((m) => m.completedAt === null)!;
    assert.ok(inProgress, 'the fixture has a message still being delivered');
    const last = states(full, STREAM).at(-1)!.state.stream.stream_state.apps;
    const cursor0 = Date.parse(last[appKey(account.apps[0].appId)].message_sent_at) / 1000;
    assert.ok(cursor0 < inProgress.sendAfter);
    const before = messagesOf(0)
      .filter((m) => m.sendAfter < inProgress.sendAfter)
      .at(-1)!;
    // The cursor keeps OneSignal's precision: the last microsecond of that message's second.
    assert.equal(Math.floor(cursor0), before.sendAfter);
  });

  it('incremental: re-exports the lookback and the message still being delivered', async () => {
    const r = await read(stateFileOf(full));
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    const last = states(full, STREAM).at(-1)!.state.stream.stream_state.apps;
    const want = [0, 1].flatMap((i) => {
      const cursor = Date.parse(last[appKey(account.apps[i].appId)].message_sent_at) / 1000;
      return expected(i, messagesOf(i, cursor - 3 * DAY_S));
    });
    assert.deepEqual(records(r, STREAM), want);
  });

  it('resuming from every intermediate state loses no record', async () => {
    const all = states(full, STREAM);
    for (const m of all.slice(0, -1)) {
      const r = await read([{ type: 'STREAM', stream: m.state.stream }], {
        ...config,
        lookback_days: 0,
      });
      assert.equal(
        r.code,
        0,
        JSON.stringify(errorsOf(r)) + JSON.stringify(m.state.stream.stream_state),
      );
      const keys = new Set(records(r, STREAM).map((x) => `${x.message_id}/${x.subscription_id}`));
      const apps = m.state.stream.stream_state.apps as Record<string, { message_sent_at: string }>;
      for (const i of [0, 1]) {
        const at = apps[appKey(account.apps[i].appId)];
        const since = at ? Date.parse(at.message_sent_at) / 1000 : nowS() - 30 * DAY_S;
        for (const x of expected(i, messagesOf(i, since)))
          assert.ok(keys.has(`${x.message_id}/${x.subscription_id}`), `lost ${x.message_id}`);
      }
    }
  });

  it('a far-future state reads no records and emits one state', async () => {
    const far = Math.floor(Date.parse('2099-01-01T00:00:00Z') / 1000);
    const r = await read(
      stateFor([
        [0, far],
        [1, far],
      ]),
    );
    assert.equal(r.code, 0);
    assert.equal(records(r).length, 0);
    assert.equal(states(r).length, 1);
  });

  it('pages through more than 50 messages with next_time_offset', async () => {
    const many = pagingAccount('paging', '11111111-2222-4333-8444-555555555555');
    const paging = await Emulator.start({
      onesignal: { accounts: [many], recordsPerSecond: 500_000, rateLimitWindowMs: 5 },
    });
    try {
      const app = many.apps[0];
      const r = await session.run('read', {
        config: {
          onesignal: { apps: [{ app_id: app.appId, api_key: app.apiKey }], api_url: paging.apiUrl },
        },
        catalog,
      });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.equal(new Set(records(r, STREAM).map((x) => x.message_id)).size, 60);
      const lists = paging.requests.filter((x) => x.route === 'onesignal.notifications');
      assert.equal(lists.length, 2);
      assert.match(lists[0].query.time_offset, /^\d{4}-\d{2}-\d{2}T/);
      assert.notEqual(lists[1].query.time_offset, lists[0].query.time_offset);
      assert.equal(cursorStates(r).length, 60);
    } finally {
      await paging.close();
    }
  });

  describe('faults', () => {
    const recent = () => {
      const last = states(full, STREAM).at(-1)!.state;
      return [{ type: 'STREAM', stream: last.stream }];
    };
    // A 5xx on the export request is not retried (it may have started the export): see
    // onesignal-lifecycle.test.ts. A 429 there was refused, so it is.
    it('429 with Retry-After on the list and the export, 5xx, reset and truncation on the file', async () => {
      emu.inject({ kind: 'rate_limit', route: 'onesignal.notifications', retryAfterSeconds: 1 });
      emu.inject({ kind: 'rate_limit', route: 'onesignal.export', retryAfterSeconds: 1 });
      emu.inject({ kind: 'server_error', route: 'onesignal.download', times: 2 });
      emu.inject({ kind: 'reset_mid_body', route: 'onesignal.download' });
      emu.inject({ kind: 'truncated_body', route: 'onesignal.download' });
      const r = await read(recent());
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(emu.pendingFaults(), []);
      const clean = await read(recent());
      assert.deepEqual(records(r, STREAM), records(clean, STREAM), 'no record lost or doubled');
      assert.equal(emu.onesignalConcurrentExportViolations, 0);
    });
    it('an export far smaller than its reported counts is synced with a warning', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'short_file' });
      const r = await read(recent());
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const short = logsOf(r, 'WARN').filter((l) =>
        /far fewer than the \d+ OneSignal reports/.test(l),
      );
      assert.equal(short.length, 1, 'one message, one warning');
      assert.deepEqual(emu.pendingFaults(), []);
    });
    it('an unparseable timestamp is synced null with meta.changes; nothing else changes', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'bad_timestamp' });
      const r = await read(recent());
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(protocolProblems(r), []);
      const [changed, ...more] = changedRecords(r, STREAM);
      assert.equal(more.length, 0, 'one bad cell, one changed record');
      assert.equal(changed.data.sent_at, null);
      assert.deepEqual(changed.changes, [nulled('sent_at')]);
      const clean = await read(recent());
      assert.equal(records(r, STREAM).length, records(clean, STREAM).length, 'no record lost');
      const [warning] = logsOf(r, 'WARN').filter((l) => l.includes('data row'));
      assert.match(
        warning,
        /export of message [^,]+, data row \d+: column "sent": expected a timestamp/,
      );
      assert.ok(!r.stdout.includes('yesterday-ish'), 'the value is never quoted');
      assert.deepEqual(cursorStates(r), cursorStates(clean), 'checkpoints as usual');
    });
    it('most timestamps unparseable: the message fails, and its checkpoint is not reached', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'mostly_bad' });
      const incoming = recent();
      const r = await read(incoming);
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'system_error');
      assert.match(
        e.message,
        /export of message .*: \d+ of the first \d+ data rows have values that cannot be converted/,
      );
      const [cursor] = cursorStates({ messages: [{ type: 'STATE', state: incoming[0] }] });
      for (const c of cursorStates(r)) assert.equal(c, cursor, 'no cursor moved');
    });
    it('an empty download is an error, never "no data": the message is not checkpointed', async () => {
      // Every file is empty: run-ahead may download message 2 before message 1, and an app's
      // failed export stops only that app, so a fault served once could land after a good file.
      emu.inject({ kind: 'malformed_csv', variant: 'empty_body', times: 1000 });
      const incoming = recent();
      const r = await read(incoming);
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'transient_error');
      assert.match(e.message, /export of message .*: the file has no header row/);
      assert.deepEqual(records(r, STREAM), []);
      const [cursor] = cursorStates({ messages: [{ type: 'STATE', state: incoming[0] }] });
      for (const c of cursorStates(r)) assert.equal(c, cursor, 'no cursor moved');
    });
    it('a bad state is a config_error', async () => {
      const r = await read([
        {
          type: 'STREAM',
          stream: {
            stream_descriptor: { name: STREAM },
            stream_state: { apps: { x: { message_sent_at: 'noon' } } },
          },
        },
      ]);
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'config_error');
    });
  });
});
