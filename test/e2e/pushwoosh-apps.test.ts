/**
 * pushwoosh_tracking with several applications of one account (the emulator's default account
 * has three; two are configured): records carry their own application, rows of the third are
 * dropped and counted, each application keeps its own cursor, a state written by 0.1.0 is
 * upgraded, and each mode has a primary key without null parts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../../emulator/fixtures';
import { configuredCatalog, type Message, records, states } from '../../emulator/harness';
import { pushwooshApplications } from '../../emulator/pushwoosh';
import { Emulator } from '../../emulator/server';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import { ConnectorSession, errorsOf, logsOf, schemaProblems } from '../support/e2e';
import { messageLogExpected, pushwooshState, trackingExpected } from '../support/pushwoosh';

const STREAM = 'pushwoosh_tracking';
const ACCOUNT = DEFAULT_PUSHWOOSH_ACCOUNT;
const [A, B, C] = pushwooshApplications(ACCOUNT);
const N = 40;
const YESTERDAY = addDays(todayUtc(), -1);
const TRACKING_DAYS = daysBetween(addDays(YESTERDAY, -12), YESTERDAY);
const MESSAGE_LOG_DAYS = daysBetween(addDays(YESTERDAY, -28), YESTERDAY);
const KEYS = {
  tracking_log: ['application_code', 'tracking_code', 'hwid', 'status', 'timestamp'],
  message_log: ['application_code', 'message_code', 'hwid', 'status', 'timestamp'],
};
type Mode = keyof typeof KEYS;
const MODES: Mode[] = ['tracking_log', 'message_log'];

/** A state file exactly as 0.1.0 wrote it: one cursor, no application, a float record count. */
const STATE_0_1_0 = (date: string) =>
  `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"pushwoosh_tracking"},"stream_state":{"date":"${date}"}},"sourceStats":{"recordCount":37.0}}]`;
const lastState = (r: Parameters<typeof states>[0]) =>
  (states(r, STREAM).at(-1) as Message).state.stream.stream_state;
const dayOf = (rec: Record<string, unknown>) => String(rec.timestamp).slice(0, 10);
const dropped = (r: Parameters<typeof logsOf>[0]) =>
  logsOf(r, 'INFO').filter((l) => l.includes('row(s) of applications that are not configured'));

/** The records whose key has a null part. */
const nullKeys = (recs: Record<string, unknown>[], mode: Mode) =>
  recs.filter((rec) => KEYS[mode].some((k) => rec[k] === null || rec[k] === undefined));

describe('pushwoosh_tracking with several applications', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let catalog: unknown;
  const cfg = (mode: Mode, pushwoosh: Record<string, unknown>, extra = {}) => ({
    lookback_days: 2,
    ...extra,
    pushwoosh: { api_token: ACCOUNT.apiToken, log_api: mode, api_url: emu.apiUrl, ...pushwoosh },
  });
  const read = (mode: Mode, pushwoosh: Record<string, unknown>, state?: unknown) =>
    session.run('read', { config: cfg(mode, pushwoosh), catalog, state });
  const two = { application_codes: [A, B] };

  before(async () => {
    emu = await Emulator.start({ pushwoosh: { pendingPolls: 1 } });
    const d = await session.run('discover', { config: cfg('message_log', two) });
    catalog = configuredCatalog(d, 'incremental');
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    session.assertNoLeaks([ACCOUNT.apiToken]);
    session.cleanup();
  });

  it("discover declares each mode's key, and the schema describes it", async () => {
    for (const mode of MODES) {
      const d = await session.run('discover', { config: cfg(mode, two) });
      const s = d.messages.find((m) => m.type === 'CATALOG')!.catalog.streams[0];
      assert.deepEqual(
        s.source_defined_primary_key,
        KEYS[mode].map((k) => [k]),
        mode,
      );
      assert.ok(s.json_schema.description.includes(KEYS[mode].join(', ')), mode);
      for (const k of KEYS[mode]) {
        assert.match(s.json_schema.properties[k].description, /primary key/, `${mode} ${k}`);
      }
    }
  });

  it('tracking_log: one download a day serves both; the third application is dropped and counted', async () => {
    const r = await read('tracking_log', two);
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    const recs = records(r, STREAM);
    assert.deepEqual(recs, trackingExpected(TRACKING_DAYS, [A, B]));
    assert.deepEqual(new Set(recs.map((x) => x.application_code)), new Set([A, B]));
    assert.ok(recs.every((x) => x.app_code === x.application_code));
    assert.deepEqual(nullKeys(recs, 'tracking_log'), []);
    const requests = emu.requests.filter((x) => x.route === 'pushwoosh.getTrackingLog');
    assert.equal(requests.length, TRACKING_DAYS.length, 'one export per day, not per application');
    assert.deepEqual(dropped(r), [
      `${STREAM}: dropped ${TRACKING_DAYS.length * N} row(s) of applications that are not configured (${C}: ${TRACKING_DAYS.length * N}); add a code to pushwoosh.application_codes to sync its rows.`,
    ]);
    // Each day moves both applications' cursors (one STATE after each advance).
    const cursors = states(r, STREAM).map((m) => m.state.stream.stream_state.applications);
    for (const day of TRACKING_DAYS)
      assert.ok(
        cursors.some((c) => c[A]?.date === day && c[B]?.date === day),
        `${day}: both applications advanced`,
      );
    assert.deepEqual(cursors.at(-1), { [A]: { date: YESTERDAY }, [B]: { date: YESTERDAY } });
  });

  it('message_log: each application is asked for with its own application_code', async () => {
    const r = await read('message_log', two);
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    const recs = records(r, STREAM);
    assert.deepEqual(recs, messageLogExpected(MESSAGE_LOG_DAYS, [A, B]));
    assert.deepEqual(nullKeys(recs, 'message_log'), []);
    const asked = emu.requests
      .filter((x) => x.route === 'pushwoosh.getMessageLog')
      .map((x) => JSON.parse(x.body).request.application_code);
    assert.equal(asked.filter((a) => a === A).length, MESSAGE_LOG_DAYS.length);
    assert.equal(asked.filter((a) => a === B).length, MESSAGE_LOG_DAYS.length);
    assert.equal(asked.length, 2 * MESSAGE_LOG_DAYS.length);
    assert.deepEqual(dropped(r), []);
    assert.deepEqual(lastState(r), {
      applications: { [A]: { date: YESTERDAY }, [B]: { date: YESTERDAY } },
    });
  });

  it('message_log from an API that ignores the filter: other rows are dropped, never relabelled', async () => {
    const lenient = await Emulator.start({ pushwoosh: { messageLogIgnoresApplication: true } });
    try {
      const since = addDays(YESTERDAY, -1);
      const r = await session.run('read', {
        config: cfg('message_log', { ...two, api_url: lenient.apiUrl }, { start_date: since }),
        catalog,
      });
      const recs = records(r, STREAM);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(recs, messageLogExpected([since, YESTERDAY], [A, B]));
      // Both queries received C's rows.
      const cRows = messageLogExpected([since, YESTERDAY], [C]).length;
      assert.equal(dropped(r).length, 1);
      assert.ok(dropped(r)[0].includes(`dropped ${2 * cRows} row(s)`), dropped(r)[0]);
      assert.ok(dropped(r)[0].includes(`(${C}: ${2 * cRows})`), dropped(r)[0]);
    } finally {
      await lenient.close();
    }
  });

  for (const mode of MODES) {
    const days = mode === 'tracking_log' ? TRACKING_DAYS : MESSAGE_LOG_DAYS;
    const expected = mode === 'tracking_log' ? trackingExpected : messageLogExpected;

    it(`${mode}: an application added later starts from the start, not from the others' cursor`, async () => {
      const cursor = addDays(YESTERDAY, -4);
      const r = await read(mode, two, pushwooshState({ [A]: cursor }));
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      // Lookback 2: A re-reads exactly the two days before its first unread day.
      const fromA = addDays(cursor, -1);
      const want = expected(days, [A, B]).filter(
        (x) => x.application_code === B || dayOf(x) >= fromA,
      );
      assert.deepEqual(records(r, STREAM), want);
      assert.ok(want.some((x) => x.application_code === B && dayOf(x) === days[0]));
      assert.deepEqual(lastState(r), {
        applications: { [A]: { date: YESTERDAY }, [B]: { date: YESTERDAY } },
      });
    });

    it(`${mode}: a state file as 0.1.0 wrote it loses nothing and re-reads only the lookback`, async () => {
      const cursor = addDays(YESTERDAY, -6);
      const first = addDays(cursor, -1);
      // The 0.1.0 form of the config: one application_code, whose cursor the state was.
      const r = await read(mode, { application_code: A }, STATE_0_1_0(cursor));
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, STREAM), expected(daysBetween(first, YESTERDAY), [A]));
      assert.deepEqual(lastState(r), { applications: { [A]: { date: YESTERDAY } } });
      assert.deepEqual(
        logsOf(r, 'WARN').filter((l) => l.includes('0.1.0')),
        [],
      );
      // The same state with one more application: the old cursor is A's, B starts afresh.
      const more = await read(
        mode,
        { application_code: A, application_codes: [B] },
        STATE_0_1_0(cursor),
      );
      assert.equal(more.code, 0, JSON.stringify(errorsOf(more)));
      assert.deepEqual(
        records(more, STREAM),
        expected(days, [A, B]).filter((x) => x.application_code === B || dayOf(x) >= first),
      );
    });
  }

  it('a 0.1.0 state without pushwoosh.application_code: a warning, every application from the start', async () => {
    const r = await read('message_log', two, STATE_0_1_0(addDays(YESTERDAY, -3)));
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(records(r, STREAM), messageLogExpected(MESSAGE_LOG_DAYS, [A, B]));
    const warned = logsOf(r, 'WARN').filter((l) => l.includes('the saved state is from 0.1.0'));
    assert.equal(warned.length, 1);
    assert.ok(warned[0].includes(`(date "${addDays(YESTERDAY, -3)}")`));
  });

  it('message_log: an application code the account lacks fails alone; the other one syncs', async () => {
    const unknown = 'ZZZZZ-ZZZZZ';
    const config = cfg('message_log', { application_codes: [unknown, A] });
    const r = await session.run('read', { config, catalog });
    assert.equal(r.code, 1);
    assert.deepEqual(records(r, STREAM), messageLogExpected(MESSAGE_LOG_DAYS, [A]));
    const [error] = errorsOf(r);
    assert.equal(error.failure_type, 'config_error');
    assert.match(error.message, new RegExp(`or does not know the application ${unknown}`));
    assert.deepEqual(lastState(r), { applications: { [A]: { date: YESTERDAY } } });
    const check = await session.run('check', { config });
    const status = check.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    assert.equal(status.status, 'FAILED');
    assert.match(status.message, new RegExp(unknown));
  });

  it('every record of both modes matches the schema', async () => {
    const d = await session.run('discover', { config: cfg('tracking_log', two) });
    const discovered = d.messages.find((m) => m.type === 'CATALOG')!.catalog;
    const since = { start_date: addDays(YESTERDAY, -1) };
    for (const mode of MODES) {
      const r = await session.run('read', { config: cfg(mode, two, since), catalog });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.ok(records(r, STREAM).length > 0);
      assert.deepEqual(schemaProblems(discovered, r), [], mode);
    }
  });
});
