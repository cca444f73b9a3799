import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import {
  configuredCatalog,
  type Message,
  records,
  type RunResult,
  stateFileOf,
  states,
  statuses,
} from '../../emulator/harness';
import { Emulator, FOREIGN_TEXT } from '../../emulator/server';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import {
  changedRecords,
  ConnectorSession,
  errorsOf,
  nulled,
  logsOf,
  protocolProblems,
  schemaProblems,
} from '../support/e2e';
import { apnsState, deliveryExpected as expected } from '../support/apns';

const STREAM = 'apns_delivery_metrics';
const TEAM = DEFAULT_APNS_TEAM;
const TOKEN = TEAM.tokens.deliverymetrics!;
const TODAY = todayUtc();
const YESTERDAY = addDays(TODAY, -1);
const OLDEST = addDays(TODAY, -30);

describe('apns_delivery_metrics end to end', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let config: Record<string, unknown>;
  let catalog: unknown;
  let discovered: { streams: { name: string; json_schema: object }[] };
  const stateOf = (date: string) => apnsState(STREAM, { [TEAM.bundleId]: date });
  const dateOf = (m: Message): string => m.state.stream.stream_state.apps[TEAM.bundleId].date;
  const read = (state?: unknown, cfg = config, cat = catalog) =>
    session.run('read', { config: cfg, catalog: cat, state });
  const posts = () => emu.requests.filter((r) => r.route === 'apns.request');

  before(async () => {
    emu = await Emulator.start({ apns: { processingPolls: 1 } });
    config = {
      apns: {
        team_id: TEAM.teamId,
        bundle_id: TEAM.bundleId,
        delivery_metrics_token: TOKEN,
        api_url: emu.apiUrl,
      },
    };
    const d = await session.run('discover', { config });
    assert.equal(d.code, 0);
    discovered = d.messages.find((m) => m.type === 'CATALOG')!.catalog;
    catalog = configuredCatalog(d, 'incremental');
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    // Runs last: no output of any test run above carries a secret.
    session.assertNoLeaks(Object.values(TEAM.tokens) as string[]);
    session.cleanup();
  });

  it('spec: one SPEC message with the connection specification', async () => {
    const r = await session.run('spec');
    assert.equal(r.code, 0);
    assert.equal(r.messages.length, 1);
    assert.equal(r.messages[0].type, 'SPEC');
    assert.ok(
      r.messages[0].spec.connectionSpecification.properties.apns.properties.delivery_metrics_token
        .airbyte_secret,
    );
  });

  it('discover: the stream with its keys, cursor and schema', () => {
    assert.deepEqual(
      discovered.streams.map((s) => s.name),
      [STREAM],
    );
    const s = discovered.streams[0] as Record<string, unknown>;
    assert.deepEqual(s.source_defined_primary_key, [
      ['bundle_id'],
      ['date'],
      ['push_type'],
      ['status'],
    ]);
    assert.deepEqual(s.default_cursor_field, ['date']);
    assert.equal(s.source_defined_cursor, true);
    assert.deepEqual(s.supported_sync_modes, ['full_refresh', 'incremental']);
  });

  it('check: SUCCEEDED with a good token, FAILED naming the field with a bad one', async () => {
    const ok = await session.run('check', { config });
    assert.equal(ok.code, 0);
    assert.deepEqual(ok.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus, {
      status: 'SUCCEEDED',
    });
    const bad = await session.run('check', {
      config: {
        ...config,
        apns: { ...(config.apns as object), delivery_metrics_token: 'wrong-token-123456' },
      },
    });
    assert.equal(bad.code, 0);
    const status = bad.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    assert.equal(status.status, 'FAILED');
    assert.match(
      status.message,
      /Apple APNs: Apple rejected apns\.delivery_metrics_token .*HTTP 401/,
    );
  });

  let full: RunResult;
  it('full read: one export for the window, records sorted by date, a state after each date', async () => {
    full = await read();
    assert.equal(full.code, 0, JSON.stringify(errorsOf(full)));
    assert.deepEqual(protocolProblems(full), []);
    assert.deepEqual(schemaProblems(discovered, full), []);
    const days = daysBetween(OLDEST, YESTERDAY);
    assert.deepEqual(records(full, STREAM), expected(days));
    assert.equal(posts().length, 1, 'one export request for the whole window');
    assert.deepEqual(JSON.parse(posts()[0].body), {
      startDate: OLDEST,
      endDate: YESTERDAY,
      dataDownloadUrlExpiresInMinutes: 60,
    });
    const st = states(full, STREAM);
    assert.deepEqual(st.map(dateOf), days);
    st.forEach((m, i) => assert.equal(m.state.sourceStats.recordCount, expected([days[i]]).length));
    assert.deepEqual(statuses(full, STREAM), ['STARTED', 'RUNNING', 'COMPLETE']);
    // The token went to the API (request and status) and never to the download origin.
    const files = emu.requests.filter((r) => r.origin === 'files');
    assert.ok(files.length >= 1);
    for (const r of files) assert.equal(r.headers['x-apple-cloudkit-management-token'], undefined);
    for (const r of emu.requests.filter((x) => x.origin === 'api'))
      assert.equal(r.headers['x-apple-cloudkit-management-token'], TOKEN);
    const estimate = full.messages.find((m) => m.type === 'TRACE' && m.trace.type === 'ESTIMATE');
    assert.equal(estimate?.trace.estimate.row_estimate, expected(days).length);
  });

  it('incremental read from the final state re-reads only the lookback days', async () => {
    const r = await read(stateFileOf(full));
    assert.equal(r.code, 0);
    const days = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);
    assert.deepEqual(records(r, STREAM), expected(days));
    assert.equal(JSON.parse(posts()[0].body).startDate, days[0]);
    // The cursor never moves back: one state, carrying all the lookback records.
    assert.deepEqual(
      states(r, STREAM).map((m) => [dateOf(m), m.state.sourceStats.recordCount]),
      [[YESTERDAY, expected(days).length]],
    );
  });

  it('resuming from every intermediate state loses no record', async () => {
    const all = states(full, STREAM);
    const total = records(full, STREAM).length;
    let cumulative = 0;
    const checks: Promise<void>[] = [];
    for (const m of all.slice(0, -1)) {
      cumulative += m.state.sourceStats.recordCount;
      const date = dateOf(m);
      const floor = total - cumulative;
      checks.push(
        (async () => {
          const r = await read(stateOf(date));
          assert.equal(r.code, 0);
          const got = records(r, STREAM);
          // CAT's rule, and the stronger one: every record after the checkpoint is there.
          assert.ok(got.length >= floor, `from ${date}: ${got.length} < ${floor}`);
          const later = expected(daysBetween(addDays(date, 1), YESTERDAY));
          const keys = new Set(got.map((x) => JSON.stringify(x)));
          for (const x of later)
            assert.ok(keys.has(JSON.stringify(x)), `from ${date}: missing ${JSON.stringify(x)}`);
        })(),
      );
      if (checks.length % 4 === 0) await Promise.all(checks.splice(0));
    }
    await Promise.all(checks);
  });

  it('lookback 0 right after a complete sync reads nothing and makes no export', async () => {
    const r = await read(stateOf(YESTERDAY), { ...config, lookback_days: 0 });
    assert.equal(r.code, 0);
    assert.equal(posts().length, 0);
    assert.equal(records(r).length, 0);
  });

  it('a one-day window asks Apple for two days and keeps one', async () => {
    const r = await read(stateOf(addDays(YESTERDAY, -1)), { ...config, lookback_days: 0 });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(posts()[0].body), {
      startDate: addDays(YESTERDAY, -1),
      endDate: YESTERDAY,
      dataDownloadUrlExpiresInMinutes: 60,
    });
    assert.deepEqual(records(r, STREAM), expected([YESTERDAY]));
  });

  it('a far-future state reads nothing and emits one state', async () => {
    const r = await read(stateOf('2099-01-01'));
    assert.equal(r.code, 0);
    assert.equal(records(r).length, 0);
    assert.deepEqual(
      states(r, STREAM).map((m) => m.state.stream.stream_state),
      [{ apps: { [TEAM.bundleId]: { date: '2099-01-01' } } }],
    );
    assert.equal(posts().length, 0);
  });

  it('start_date inside the window is honoured; an older one is clamped with a warning', async () => {
    const start = addDays(TODAY, -5);
    const inside = await read(undefined, { ...config, start_date: start });
    assert.deepEqual(records(inside, STREAM), expected(daysBetween(start, YESTERDAY)));
    const old = await read(undefined, { ...config, start_date: '2020-01-01' });
    assert.equal(old.code, 0);
    assert.ok(
      logsOf(old, 'WARN').some((l) =>
        l.includes(
          `start_date 2020-01-01 is older than the 30 days Apple keeps; reading from ${OLDEST}`,
        ),
      ),
    );
    assert.equal(records(old, STREAM).length, expected(daysBetween(OLDEST, YESTERDAY)).length);
  });

  it('full refresh reads everything, or, given a state (a retry attempt), only after it', async () => {
    const fullRefresh = configuredCatalog(
      { messages: [{ type: 'CATALOG', catalog: discovered }] } as unknown as RunResult,
      'full_refresh',
    );
    const fresh = await read(undefined, config, fullRefresh);
    assert.equal(fresh.code, 0);
    assert.equal(records(fresh, STREAM).length, expected(daysBetween(OLDEST, YESTERDAY)).length);
    // No lookback: the days the state covers are not sent again.
    const resumed = await read(stateOf(addDays(YESTERDAY, -2)), config, fullRefresh);
    assert.equal(resumed.code, 0);
    assert.deepEqual(records(resumed, STREAM), expected([addDays(YESTERDAY, -1), YESTERDAY]));
  });

  describe('faults', () => {
    const days = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);
    const small = () => read(stateOf(YESTERDAY));
    const recovered = async (why: string) => {
      const r = await small();
      assert.equal(r.code, 0, `${why}: ${JSON.stringify(errorsOf(r))}`);
      assert.deepEqual(records(r, STREAM), expected(days), why);
      return r;
    };

    it('429 with Retry-After on the request', async () => {
      emu.inject({ kind: 'rate_limit', route: 'apns.request', times: 2, retryAfterSeconds: 2 });
      const r = await recovered('rate limit');
      const [a, b] = posts();
      assert.equal(a.status, 429);
      assert.ok(b.at - a.at >= 19, 'waited Retry-After (2 s at 1/100)');
      assert.ok(logsOf(r, 'WARN').some((l) => /HTTP 429; retry 1/.test(l)));
    });
    it('a burst of 5xx on the status URL', async () => {
      emu.inject({ kind: 'server_error', route: 'apns.status', times: 3, status: 503 });
      await recovered('5xx');
      assert.equal(
        emu.requests.filter((r) => r.route === 'apns.status' && r.status === 503).length,
        3,
      );
    });
    it('a connection reset in the middle of the download body', async () => {
      emu.inject({ kind: 'reset_mid_body', route: 'apns.download' });
      const r = await recovered('reset');
      assert.ok(logsOf(r, 'WARN').some((l) => /broke off/.test(l)));
    });
    it('a truncated download body', async () => {
      emu.inject({ kind: 'truncated_body', route: 'apns.download' });
      const r = await recovered('truncated');
      assert.ok(logsOf(r, 'WARN').some((l) => /broke off|incomplete/.test(l)));
    });
    it('an export that FAILED is requested again', async () => {
      emu.inject({ kind: 'export_failed' });
      await recovered('failed');
      assert.equal(posts().length, 2);
    });
    it('an export that EXPIRED is requested again', async () => {
      emu.inject({ kind: 'export_expired' });
      await recovered('expired');
      assert.equal(posts().length, 2);
    });
    it('an export that keeps failing ends in a transient_error', async () => {
      emu.inject({ kind: 'export_failed', times: 10 });
      const r = await small();
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'transient_error');
      assert.match(errorsOf(r)[0].message, /ended FAILED 3 time\(s\)/);
      assert.equal(posts().length, 3);
    });
    it('an expired download URL: the status is fetched again for a fresh one', async () => {
      emu.inject({ kind: 'download_url_expired' });
      await recovered('url expired');
      const downloads = emu.requests.filter((r) => r.route === 'apns.download');
      assert.equal(downloads.length, 2);
      assert.notEqual(downloads[0].query.signature, downloads[1].query.signature);
    });
    it('persistent 5xx ends in a transient_error and INCOMPLETE', async () => {
      emu.inject({ kind: 'server_error', route: 'apns.request', times: 100 });
      const r = await small();
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'transient_error');
      assert.deepEqual(statuses(r, STREAM), ['STARTED', 'INCOMPLETE']);
      assert.equal(states(r).length, 0);
    });
    for (const [variant, pattern] of [
      ['unterminated_quote', /quote/i],
      ['missing_column', /Count/],
    ] as const) {
      it(`malformed CSV (${variant}) fails the stream with a clear error and emits nothing`, async () => {
        emu.inject({ kind: 'malformed_csv', variant });
        const r = await small();
        assert.equal(r.code, 1);
        const [e] = errorsOf(r);
        assert.equal(e.failure_type, 'system_error');
        assert.match(e.message, pattern);
        assert.equal(records(r).length, 0);
        assert.equal(states(r).length, 0);
      });
    }
    it('a count or a date that does not convert is synced null with meta.changes, logged without the value', async () => {
      for (const [variant, field] of [
        ['bad_count', 'count'],
        ['bad_date', 'date'],
      ] as const) {
        emu.inject({ kind: 'malformed_csv', variant });
        const r = await small();
        assert.equal(r.code, 0, `${variant}: ${JSON.stringify(errorsOf(r))}`);
        assert.deepEqual(protocolProblems(r), []);
        const changed = changedRecords(r, STREAM);
        assert.equal(changed.length, 1, variant);
        assert.equal(changed[0].data[field], null);
        assert.deepEqual(changed[0].changes, [nulled(field)]);
        // Every other record is as expected, and the nulled one is there beside them.
        assert.equal(records(r, STREAM).length, expected(days).length, variant);
        const warned = logsOf(r, 'WARN').filter((l) => /, data row \d+: /.test(l));
        assert.equal(warned.length, 1, variant);
        assert.match(warned[0], /data row \d+: column "(Count|Date \(UTC\))": expected/);
        assert.ok(!r.stdout.includes('12x') && !r.stdout.includes('2026-13-45'), 'no value quoted');
        assert.ok(
          logsOf(r, 'WARN').some((l) => l.includes(`1 value(s) could not be converted`)),
          variant,
        );
      }
    });
    it('most counts unconvertible: the export fails and no day is checkpointed', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'mostly_bad' });
      const r = await read(stateOf(addDays(YESTERDAY, -3)));
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'system_error');
      assert.match(e.message, /data rows have values that cannot be converted/);
      assert.deepEqual(states(r, STREAM), []);
      assert.deepEqual(statuses(r, STREAM).at(-1), 'INCOMPLETE');
    });
    it('an empty download is an error, never "no data": no day of the window is checkpointed', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'empty_body' });
      const r = await read(stateOf(addDays(YESTERDAY, -3)));
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'transient_error');
      assert.match(e.message, /the file has no header row/);
      assert.deepEqual(records(r, STREAM), []);
      assert.deepEqual(states(r, STREAM), [], 'no checkpoint past the last read day');
      // The next sync reads the window again, whole.
      const again = await read(stateOf(addDays(YESTERDAY, -3)));
      assert.equal(again.code, 0);
      assert.equal(dateOf(states(again, STREAM).at(-1)!), YESTERDAY);
    });
    it('an extra column that splits rows: a repeated key fails the export, naming the column, not values', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'environment_column' });
      const r = await small();
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'system_error');
      assert.match(
        e.message,
        /data rows \d+ and \d+ are of the same day and have the same primary key/,
      );
      assert.match(e.message, /"Environment"/);
      for (const value of ['alert', 'delivered', 'Production', 'Development'])
        assert.ok(!e.message.includes(value), `the message quotes no value (${value})`);
      assert.deepEqual(
        records(r, STREAM),
        [],
        'nothing emitted: a destination could not tell them apart',
      );
      assert.deepEqual(states(r, STREAM), []);
    });
    it('a download that is not the export: the error quotes none of its text', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'foreign_text' });
      const r = await small();
      assert.equal(r.code, 1);
      const [e] = errorsOf(r);
      assert.match(e.message, /missing required columns/);
      for (const part of FOREIGN_TEXT.trim().split(/[;=]/))
        assert.ok(!r.stdout.includes(part), `"${part}" is not in any output`);
    });
    it('an extra column is logged once and the rest is synced', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'extra_column' });
      const r = await recovered('extra column');
      assert.equal(logsOf(r, 'WARN').filter((l) => l.includes('"Region"')).length, 1);
    });
  });

  describe('bad inputs', () => {
    it('bad config: every problem named, check FAILED exit 0, read config_error exit 1', async () => {
      const bad = {
        lookback_days: 45,
        apns: { team_id: 'abc', delivery_metrics_token: TOKEN, api_url: 'http://example.com' },
      };
      const c = await session.run('check', { config: bad });
      assert.equal(c.code, 0);
      const msg = c.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus
        .message as string;
      for (const part of [
        'apns.bundle_id is required',
        'apns.team_id must be 10 capital letters or digits (got "abc")',
        'lookback_days must be <= 30',
        'apns.api_url must use https://',
      ]) {
        assert.ok(msg.includes(part), `${part} in ${msg}`);
      }
      const r = await read(undefined, bad);
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'config_error');
      const none = await session.run('check', { config: {} });
      assert.match(none.messages[0].connectionStatus.message, /at least one provider/);
    });
    it('a secret that fails validation is not echoed', async () => {
      const r = await session.run('check', {
        config: {
          apns: { team_id: 'ABCDE12345', bundle_id: 'com.x.y', delivery_metrics_token: 12345678 },
        },
      });
      const msg = r.messages[0].connectionStatus.message as string;
      assert.match(msg, /apns\.delivery_metrics_token must be a string, got a number/);
      assert.equal(msg.includes('12345678'), false);
    });
    it('bad state: garbage, legacy and a bad date are config errors', async () => {
      for (const [state, pattern] of [
        ['{oops', /state file is not valid JSON/],
        [{ [STREAM]: { date: '2026-01-01' } }, /legacy/],
        [stateOf('last tuesday'), /"last tuesday", which is not a date/],
      ] as const) {
        const r = await read(state);
        assert.notEqual(r.code, 0);
        assert.equal(errorsOf(r)[0].failure_type, 'config_error');
        assert.match(errorsOf(r)[0].message, pattern);
      }
      const empty = await read('');
      assert.equal(empty.code, 0);
    });
    it('bad catalog: an unknown stream and an unconfigured one are named; the good one still runs', async () => {
      const cat = {
        streams: [
          {
            stream: { name: 'no_such_stream' },
            sync_mode: 'incremental',
            destination_sync_mode: 'append',
          },
          {
            stream: { name: 'apns_broadcast_app' },
            sync_mode: 'incremental',
            destination_sync_mode: 'append',
          },
          ...(catalog as { streams: unknown[] }).streams,
        ],
      };
      const r = await read(stateOf(YESTERDAY), config, cat);
      assert.equal(r.code, 1);
      const errors = errorsOf(r);
      assert.match(errors[0].message, /'no_such_stream' .*was not found/);
      assert.match(
        errors[1].message,
        /'apns_broadcast_app' is in the catalog but the configuration has no apns\.broadcast_app_token/,
      );
      assert.ok(errors.every((e) => e.failure_type === 'config_error'));
      assert.deepEqual(statuses(r, STREAM), ['STARTED', 'RUNNING', 'COMPLETE']);
      const garbage = await read(undefined, config, '{"streams": 3}');
      assert.equal(garbage.code, 1);
      assert.match(errorsOf(garbage)[0].message, /"streams" list/);
    });
  });
});
