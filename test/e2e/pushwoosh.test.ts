import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../../emulator/fixtures';
import {
  configuredCatalog,
  type Message,
  records,
  stateFileOf,
  states,
  statuses,
} from '../../emulator/harness';
import { pushwooshMessageLogRows } from '../../emulator/pushwoosh';
import { Emulator, FOREIGN_TEXT } from '../../emulator/server';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import {
  changedRecords,
  ConnectorSession,
  errorsOf,
  logsOf,
  nulled,
  protocolProblems,
  schemaProblems,
} from '../support/e2e';
import { messageLogExpected, pushwooshState, trackingExpected } from '../support/pushwoosh';

const STREAM = 'pushwoosh_tracking';
const ACCOUNT = DEFAULT_PUSHWOOSH_ACCOUNT;
const APP = ACCOUNT.applicationCode;
const TODAY = todayUtc();
const YESTERDAY = addDays(TODAY, -1);
const stateOf = (date: string) => pushwooshState({ [APP]: date });
/** The application's cursor in a STATE message. */
const cursorOf = (m: Message) => m.state.stream.stream_state.applications[APP].date as string;

describe('pushwoosh_tracking end to end', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let catalog: unknown;
  let discovered: { streams: { name: string; json_schema: object }[] };
  const cfg = (logApi: 'message_log' | 'tracking_log', extra: Record<string, unknown> = {}) => ({
    lookback_days: 2,
    pushwoosh: {
      api_token: ACCOUNT.apiToken,
      application_code: APP,
      log_api: logApi,
      api_url: emu.apiUrl,
      ...extra,
    },
  });
  const read = (
    logApi: 'message_log' | 'tracking_log',
    state?: unknown,
    extra: Record<string, unknown> = {},
  ) => session.run('read', { config: cfg(logApi, extra), catalog, state });

  before(async () => {
    emu = await Emulator.start({ pushwoosh: { pendingPolls: 2 } });
    const d = await session.run('discover', { config: cfg('message_log') });
    discovered = d.messages.find((m) => m.type === 'CATALOG')!.catalog;
    catalog = configuredCatalog(d, 'incremental');
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    session.assertNoLeaks([ACCOUNT.apiToken]);
    session.cleanup();
  });

  it('discover: the stream, keys and the getMessageLog fields declared', () => {
    const s = discovered.streams.find((x) => x.name === STREAM) as unknown as {
      source_defined_primary_key: unknown;
      json_schema: { properties: Record<string, unknown> };
    };
    assert.deepEqual(s.source_defined_primary_key, [
      ['application_code'],
      ['message_code'],
      ['hwid'],
      ['status'],
      ['timestamp'],
    ]);
    for (const f of ['message_code', 'platform', 'payload_raw'])
      assert.ok(s.json_schema.properties[f], f);
  });

  it('check: both modes succeed; a bad token is named', async () => {
    for (const mode of ['message_log', 'tracking_log'] as const) {
      const ok = await session.run('check', { config: cfg(mode) });
      assert.deepEqual(
        ok.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus,
        { status: 'SUCCEEDED' },
        mode,
      );
      const bad = await session.run('check', {
        config: cfg(mode, { api_token: 'pw-token-wrong-wrong-wrong' }),
      });
      const status = bad.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
      assert.equal(status.status, 'FAILED', mode);
      assert.match(status.message, /pushwoosh\.api_token/, mode);
    }
  });

  describe('message_log (getMessageLog)', () => {
    let full: Awaited<ReturnType<typeof read>>;
    it('full read: 30 days, a state after each day', async () => {
      full = await read('message_log');
      assert.equal(full.code, 0, JSON.stringify(errorsOf(full)));
      assert.deepEqual(protocolProblems(full), []);
      assert.deepEqual(schemaProblems(discovered, full), []);
      const days = daysBetween(addDays(TODAY, -29), YESTERDAY);
      assert.deepEqual(records(full, STREAM), messageLogExpected(days));
      assert.deepEqual(states(full, STREAM).map(cursorOf), days);
      assert.deepEqual(statuses(full, STREAM), ['STARTED', 'RUNNING', 'COMPLETE']);
      const calls = emu.requests.filter((r) => r.route === 'pushwoosh.getMessageLog');
      assert.ok(calls.every((r) => r.path === '/api/v2/statistics/getMessageLog'));
      const first = JSON.parse(calls[0].body).request;
      assert.equal(first.date_from, `${days[0]} 00:00:00`);
      assert.equal(first.date_to, `${addDays(days[0], 1)} 00:00:00`);
    });
    it('incremental from the final state, and resume from intermediate states', async () => {
      const r = await read('message_log', stateFileOf(full));
      assert.deepEqual(
        records(r, STREAM),
        messageLogExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)),
      );
      for (const m of states(full, STREAM).filter((_, i) => i % 7 === 3)) {
        const date = cursorOf(m);
        const res = await read('message_log', stateOf(date));
        assert.deepEqual(
          records(res, STREAM),
          messageLogExpected(daysBetween(addDays(date, -1), YESTERDAY)),
        );
      }
      const future = await read('message_log', stateOf('2099-01-01'));
      assert.equal(records(future).length, 0);
      assert.equal(states(future).length, 1);
    });
    it('pages with pagination_token', async () => {
      // 40 events a day hold about 30 message-log rows; a small page forces paging.
      const emuSmall = await Emulator.start({ pushwoosh: { eventsPerDay: 25_000 } });
      try {
        const r = await session.run('read', {
          config: { ...cfg('message_log', { api_url: emuSmall.apiUrl }), start_date: YESTERDAY },
          catalog,
        });
        assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
        const calls = emuSmall.requests.filter((x) => x.route === 'pushwoosh.getMessageLog');
        assert.ok(calls.length >= 2, `${calls.length} calls`);
        assert.ok(JSON.parse(calls[1].body).request.pagination_token);
        assert.equal(
          records(r, STREAM).length,
          pushwooshMessageLogRows(APP, YESTERDAY, 25_000).length,
        );
      } finally {
        await emuSmall.close();
      }
    });
    it('a page token handed back again ends the day with a system_error, not a loop', async () => {
      const emuSmall = await Emulator.start({ pushwoosh: { eventsPerDay: 25_000 } });
      try {
        emuSmall.inject({ kind: 'pushwoosh_repeat_token', times: 1000 });
        const r = await session.run('read', {
          config: { ...cfg('message_log', { api_url: emuSmall.apiUrl }), start_date: YESTERDAY },
          catalog,
        });
        assert.equal(r.code, 1);
        const [e] = errorsOf(r);
        assert.equal(e.failure_type, 'system_error');
        assert.match(e.message, /gave a pagination token it had already given/);
        // Two pages per application were asked for, the repeat noticed on the second: no loop.
        const calls = emuSmall.requests.filter((x) => x.route === 'pushwoosh.getMessageLog');
        assert.ok(calls.length <= 4, `${calls.length} calls`);
        assert.equal(states(r, STREAM).length <= 1, true, 'the day is not checkpointed');
      } finally {
        await emuSmall.close();
      }
    });
    it('falls back to /json/1.3/getMessageLog when the v2 path answers 404', async () => {
      const old = await Emulator.start({ pushwoosh: { messageLogV2: false } });
      try {
        const r = await session.run('read', {
          config: {
            ...cfg('message_log', { api_url: old.apiUrl }),
            start_date: addDays(YESTERDAY, -1),
          },
          catalog,
        });
        assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
        assert.deepEqual(
          records(r, STREAM),
          messageLogExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)),
        );
        const paths = old.requests
          .filter((x) => x.path.endsWith('getMessageLog'))
          .map((x) => `${x.path} ${x.status}`);
        assert.deepEqual(paths, [
          '/api/v2/statistics/getMessageLog 404',
          '/json/1.3/getMessageLog 200',
          '/json/1.3/getMessageLog 200',
        ]);
        assert.ok(logsOf(r, 'INFO').some((l) => l.includes('trying /json/1.3/getMessageLog')));
      } finally {
        await old.close();
      }
    });
    it('faults: 429 and 5xx are retried; an account without the plan is a config_error', async () => {
      emu.inject({ kind: 'rate_limit', route: 'pushwoosh.getMessageLog', retryAfterSeconds: 1 });
      emu.inject({ kind: 'server_error', route: 'pushwoosh.getMessageLog', times: 2 });
      const r = await read('message_log', stateOf(YESTERDAY));
      assert.equal(r.code, 0);
      assert.deepEqual(
        records(r, STREAM),
        messageLogExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)),
      );
      const noPlan = await Emulator.start({
        pushwoosh: { accounts: [{ ...ACCOUNT, messageLogEnabled: false }] },
      });
      try {
        const x = await session.run('read', {
          config: cfg('message_log', { api_url: noPlan.apiUrl }),
          catalog,
          state: stateOf(YESTERDAY),
        });
        assert.equal(x.code, 1);
        assert.equal(errorsOf(x)[0].failure_type, 'config_error');
        assert.match(errorsOf(x)[0].message, /Custom plan.*tracking_log/);
      } finally {
        await noPlan.close();
      }
    });
  });

  describe('tracking_log (getTrackingLog + getResults)', () => {
    let full: Awaited<ReturnType<typeof read>>;
    it('full read: 14 days of ZIPs, payloads parsed, a state after each day', async () => {
      full = await read('tracking_log');
      assert.equal(full.code, 0, JSON.stringify(errorsOf(full)));
      assert.deepEqual(schemaProblems(discovered, full), []);
      const days = daysBetween(addDays(TODAY, -13), YESTERDAY);
      assert.deepEqual(records(full, STREAM), trackingExpected(days));
      assert.deepEqual(states(full, STREAM).map(cursorOf), days);
      const awkward = records(full, STREAM).find((x) => JSON.stringify(x.payload).includes('🎉'));
      assert.ok(awkward, 'the payload with every awkward character came through parsed');
      for (const r of emu.requests.filter((x) => x.origin === 'files'))
        assert.equal(r.headers.authorization, undefined);
      assert.ok(
        emu.requests.filter((x) => x.route === 'pushwoosh.getResults').length > days.length,
        'getResults was polled while pending',
      );
    });
    it('incremental and resume', async () => {
      const r = await read('tracking_log', stateFileOf(full));
      assert.deepEqual(
        records(r, STREAM),
        trackingExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)),
      );
      const mid = cursorOf(states(full, STREAM)[5]);
      const res = await read('tracking_log', stateOf(mid));
      assert.deepEqual(
        records(res, STREAM),
        trackingExpected(daysBetween(addDays(mid, -1), YESTERDAY)),
      );
    });
    it('faults: pending longer, reset download, 5xx', async () => {
      emu.inject({ kind: 'pushwoosh_pending', polls: 3 });
      emu.inject({ kind: 'reset_mid_body', route: 'pushwoosh.download' });
      emu.inject({ kind: 'server_error', route: 'pushwoosh.getTrackingLog' });
      const r = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(emu.pendingFaults(), []);
      assert.deepEqual(
        records(r, STREAM),
        trackingExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)),
      );
    });
    it('a payload that is not JSON is kept as text', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'bad_payload' });
      const r = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const kept = records(r, STREAM).filter((x) => x.payload_raw !== null);
      assert.equal(kept.length, 1);
      assert.equal(kept[0].payload, null);
      assert.throws(() => JSON.parse(kept[0].payload_raw as string));
      assert.ok(logsOf(r, 'WARN').some((l) => /1 payload\(s\) were not valid JSON/.test(l)));
      assert.equal(
        records(r, STREAM).length,
        trackingExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY)).length,
      );
    });
    /** The two days a read from yesterday's state covers (lookback 2), and what they hold. */
    const readLastDays = () => read('tracking_log', stateOf(YESTERDAY));
    const lastDays = () => trackingExpected(daysBetween(addDays(YESTERDAY, -1), YESTERDAY));
    it('a 210 argument error is reported with its message', async () => {
      emu.inject({
        kind: 'pushwoosh_argument_error',
        route: 'pushwoosh.getTrackingLog',
        message: 'Invalid date',
      });
      const r = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(r.code, 1);
      assert.match(errorsOf(r)[0].message, /status_code 210: Invalid date/);
    });
    it('getResults with a final status_code (210 argument error) fails at once, not after the timeout', async () => {
      const message = 'Argument error';
      // Every job answers so (days are fetched ahead, in any order): the first day fails.
      emu.inject({
        kind: 'pushwoosh_argument_error',
        route: 'pushwoosh.getResults',
        message,
        times: 10,
      });
      const r = await readLastDays();
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'system_error');
      assert.match(
        e.message,
        /getResults for the .* tracking log failed with status_code 210: Argument error/,
      );
      // The rejected job is not polled again (the next day's job may have been polled once).
      const polls = new Map<string, number>();
      for (const x of emu.requests.filter((q) => q.route === 'pushwoosh.getResults')) {
        const id = (JSON.parse(x.body) as { request: { request_id: string } }).request.request_id;
        polls.set(id, (polls.get(id) ?? 0) + 1);
      }
      assert.ok(polls.size >= 1);
      assert.deepEqual([...new Set(polls.values())], [1], 'no job polled twice');
      assert.deepEqual(states(r, STREAM), []);
    });
    it('a truncated ZIP entry fails with a clear error', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'truncated_entry' });
      const t = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(t.code, 1);
      assert.match(errorsOf(t)[0].message, /truncated|incomplete|corrupt/i);
    });
    it('a timestamp that cannot be read is synced null with meta.changes, never quoted', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'bad_timestamp' });
      const b = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(b.code, 0, JSON.stringify(errorsOf(b)));
      assert.deepEqual(protocolProblems(b), []);
      const [changed, ...more] = changedRecords(b, STREAM);
      assert.equal(more.length, 0);
      assert.equal(changed.data.timestamp, null);
      assert.deepEqual(changed.changes, [nulled('timestamp')]);
      assert.equal(records(b, STREAM).length, lastDays().length);
      assert.ok(!b.stdout.includes('20/04/2021'), 'the value is never quoted');
      assert.ok(
        logsOf(b, 'WARN').some((l) =>
          /tracking log of .*, data row \d+: column "timestamp"/.test(l),
        ),
      );
    });
    it('most timestamps unreadable: the day fails and gets no STATE', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'bad_timestamps', times: 10 });
      const r = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'system_error');
      assert.match(errorsOf(r)[0].message, /data rows have values that cannot be converted/);
      assert.deepEqual(states(r, STREAM), []);
    });
    it('an empty download is an error, never "no data": its day gets no STATE', async () => {
      // Every download (days are fetched ahead, in any order): the first day read fails.
      emu.inject({ kind: 'malformed_zip', variant: 'empty_body', times: 10 });
      const r = await read('tracking_log', stateOf(addDays(YESTERDAY, -3)));
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'transient_error');
      assert.match(e.message, /Pushwoosh tracking log of .*: the file has no header row/);
      const from = addDays(YESTERDAY, -3);
      for (const m of states(r, STREAM)) assert.equal(cursorOf(m), from, 'no day checkpointed');
    });
    it('a ZIP split into two CSV entries: both are read, every row synced', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'two_entries' });
      const r = await readLastDays();
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(emu.pendingFaults(), [], 'the split file was served');
      assert.deepEqual(records(r, STREAM), lastDays());
    });
    it('a download that is not the export: the error quotes none of its text', async () => {
      emu.inject({ kind: 'malformed_zip', variant: 'foreign_text' });
      const r = await read('tracking_log', stateOf(YESTERDAY));
      assert.equal(r.code, 1);
      assert.match(errorsOf(r)[0].message, /missing required columns/);
      for (const part of FOREIGN_TEXT.trim().split(/[;=]/))
        assert.ok(!r.stdout.includes(part), `"${part}" is not in any output`);
    });
    it('a ZIP whose CRC-32 is wrong, or that is cut short, fails and its day gets no STATE', async () => {
      for (const [variant, message] of [
        ['bad_crc', /the zip file is corrupt: entry 1 fails its CRC-32 check/],
        ['truncated_archive', /the zip file is truncated \(incomplete\)/],
      ] as const) {
        // Every day's file (days are fetched ahead, in any order), so the first day read fails.
        emu.reset();
        emu.inject({ kind: 'malformed_zip', variant, times: 10 });
        const r = await read('tracking_log', stateOf(YESTERDAY));
        assert.equal(r.code, 1, variant);
        assert.match(errorsOf(r)[0].message, message);
        // The CRC is known at the entry's end, so that day's rows may be out; the day is not done.
        assert.deepEqual(states(r, STREAM), [], variant);
      }
    });
  });
});
