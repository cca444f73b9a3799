import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { apnsBroadcastDateCell } from '../../emulator/apns';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import { configuredCatalog, records, stateFileOf, states, statuses } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import {
  apnsState,
  broadcastAppExpected as expectedApp,
  broadcastChannelExpected as expectedChannel,
} from '../support/apns';
import {
  changedRecords,
  ConnectorSession,
  errorsOf,
  logsOf,
  nulled,
  protocolProblems,
  schemaProblems,
} from '../support/e2e';

const APP = 'apns_broadcast_app';
const CHANNEL = 'apns_broadcast_channel';
const TEAM = DEFAULT_APNS_TEAM;
const [CH_A, CH_B] = TEAM.channelIds;
const TODAY = todayUtc();
const YESTERDAY = addDays(TODAY, -1);
const OLDEST = addDays(TODAY, -30);
/** The partition of a channel of the default app in the channel stream's state. */
const key = (channelId: string) => `${TEAM.bundleId}:${channelId}`;
const channelState = (dates: Record<string, string>) =>
  apnsState(
    CHANNEL,
    Object.fromEntries(Object.entries(dates).map(([id, date]) => [key(id), date])),
  );
const appState = (date: string) => apnsState(APP, { [TEAM.bundleId]: date });

describe('APNs broadcast streams end to end', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let config: { apns: Record<string, unknown> } & Record<string, unknown>;
  let discovered: { streams: { name: string; json_schema: object }[] };
  let catalog: unknown;
  const only = (name: string) => ({
    streams: (catalog as { streams: { stream: { name: string } }[] }).streams.filter(
      (s) => s.stream.name === name,
    ),
  });
  const read = (cat: unknown, state?: unknown, cfg: unknown = config) =>
    session.run('read', { config: cfg, catalog: cat, state });
  /** Export request bodies in config channel order (concurrent requests may arrive in any order). */
  const requestBodies = () =>
    emu.requests
      .filter((x) => x.route === 'apns.request')
      .map((x) => JSON.parse(x.body) as { channelId: string; startDate: string })
      .sort((a, b) => TEAM.channelIds.indexOf(a.channelId) - TEAM.channelIds.indexOf(b.channelId));
  const withApns = (extra: Record<string, unknown>) => ({
    ...config,
    apns: { ...config.apns, ...extra },
  });

  before(async () => {
    emu = await Emulator.start({ apns: { processingPolls: 1 } });
    config = {
      apns: {
        team_id: TEAM.teamId,
        bundle_id: TEAM.bundleId,
        broadcast_app_token: TEAM.tokens.broadcastapplicationmetric,
        broadcast_channel_token: TEAM.tokens.broadcastchannelmetrics,
        channel_ids: [CH_A, CH_B],
        api_url: emu.apiUrl,
      },
    };
    const d = await session.run('discover', { config });
    discovered = d.messages.find((m) => m.type === 'CATALOG')!.catalog;
    catalog = configuredCatalog(d, 'incremental');
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    session.assertNoLeaks(Object.values(TEAM.tokens) as string[]);
    session.cleanup();
  });

  it('discover: both streams with their keys; -1 documented as null', () => {
    const byName = new Map(
      discovered.streams.map((s) => [s.name, s as unknown as Record<string, unknown>]),
    );
    assert.deepEqual([...byName.keys()], [APP, CHANNEL]);
    assert.deepEqual(byName.get(APP)!.source_defined_primary_key, [['bundle_id'], ['date']]);
    assert.deepEqual(byName.get(CHANNEL)!.source_defined_primary_key, [
      ['bundle_id'],
      ['channel_id'],
      ['date'],
    ]);
    const props = (
      byName.get(APP)!.json_schema as { properties: Record<string, { description: string }> }
    ).properties;
    assert.match(props.broadcasts_delivered.description, /-1 .* becomes null/);
  });

  it('no channel ids: the channel stream is not discovered', async () => {
    const d = await session.run('discover', { config: withApns({ channel_ids: [] }) });
    assert.deepEqual(
      d.messages[0].catalog.streams.map((s: { name: string }) => s.name),
      [APP],
    );
  });

  it('apns_broadcast_app: full read with -1 as null and both date forms', async () => {
    const r = await read(only(APP));
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(protocolProblems(r), []);
    assert.deepEqual(schemaProblems(discovered, r), []);
    const days = daysBetween(OLDEST, YESTERDAY);
    const got = records(r, APP);
    assert.deepEqual(got, expectedApp(days));
    assert.ok(
      got.some((x) => Object.values(x).includes(null)),
      'the data has privacy-hidden counts',
    );
    assert.ok(
      days.some((d) => apnsBroadcastDateCell(TEAM.teamId, TEAM.bundleId, null, d).includes('T')),
      'the file has ISO dates',
    );
    assert.deepEqual(
      states(r, APP).map((m) => m.state.stream.stream_state),
      days.map((date) => ({ apps: { [TEAM.bundleId]: { date } } })),
    );
    const post = emu.requests.find((x) => x.route === 'apns.request')!;
    assert.match(post.path, /datasetName\/broadcastapplicationmetric\/request$/);
    assert.equal(
      post.headers['x-apple-cloudkit-management-token'],
      TEAM.tokens.broadcastapplicationmetric,
    );
  });

  it('apns_broadcast_channel: one export per channel, records carry channel_id, state per channel', async () => {
    const r = await read(only(CHANNEL));
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(schemaProblems(discovered, r), []);
    const days = daysBetween(OLDEST, YESTERDAY);
    assert.deepEqual(records(r, CHANNEL), [
      ...expectedChannel(CH_A, days),
      ...expectedChannel(CH_B, days),
    ]);
    const bodies = requestBodies();
    assert.deepEqual(
      bodies.map((b) => b.channelId),
      [CH_A, CH_B],
    );
    // Both exports were in flight together: the second was requested before the first finished.
    const firstDownload = emu.requests.find((x) => x.route === 'apns.download')!;
    const requests = emu.requests.filter((x) => x.route === 'apns.request');
    assert.ok(requests[1].at <= firstDownload.at, 'channel exports run concurrently');
    const st = states(r, CHANNEL).map((m) => m.state.stream.stream_state);
    assert.equal(st.length, 60);
    assert.deepEqual(st[29], { app_channels: { [key(CH_A)]: { date: YESTERDAY } } });
    assert.deepEqual(st[30], {
      app_channels: { [key(CH_A)]: { date: YESTERDAY }, [key(CH_B)]: { date: OLDEST } },
    });
    assert.deepEqual(st[59], {
      app_channels: { [key(CH_A)]: { date: YESTERDAY }, [key(CH_B)]: { date: YESTERDAY } },
    });

    // Resume from every intermediate state: nothing after the checkpoint is lost.
    const all = states(r, CHANNEL);
    const checks = all.slice(0, -1).filter((_, i) => i % 3 === 0);
    for (let i = 0; i < checks.length; i += 4) {
      await Promise.all(
        checks.slice(i, i + 4).map(async (m) => {
          const saved = m.state.stream.stream_state.app_channels as Record<
            string,
            { date: string }
          >;
          const res = await read(only(CHANNEL), [{ type: 'STREAM', stream: m.state.stream }]);
          assert.equal(res.code, 0);
          const keys = new Set(records(res, CHANNEL).map((x) => JSON.stringify(x)));
          for (const id of [CH_A, CH_B]) {
            const from = saved[key(id)] ? addDays(saved[key(id)].date, 1) : OLDEST;
            for (const x of expectedChannel(id, daysBetween(from, YESTERDAY)))
              assert.ok(keys.has(JSON.stringify(x)), `lost ${JSON.stringify(x)}`);
          }
        }),
      );
    }
  });

  it('a channel added later starts from start_date while the others continue', async () => {
    const start = addDays(TODAY, -10);
    const r = await read(only(CHANNEL), channelState({ [CH_A]: YESTERDAY }), {
      ...config,
      start_date: start,
    });
    assert.equal(r.code, 0);
    const bodies = requestBodies();
    assert.deepEqual(
      bodies.map((b) => [b.channelId, b.startDate]),
      [
        [CH_A, addDays(YESTERDAY, -2)],
        [CH_B, start],
      ],
    );
    assert.deepEqual(records(r, CHANNEL), [
      ...expectedChannel(CH_A, daysBetween(addDays(YESTERDAY, -2), YESTERDAY)),
      ...expectedChannel(CH_B, daysBetween(start, YESTERDAY)),
    ]);
    const last = states(r, CHANNEL).at(-1)!.state.stream.stream_state;
    assert.deepEqual(last, {
      app_channels: { [key(CH_A)]: { date: YESTERDAY }, [key(CH_B)]: { date: YESTERDAY } },
    });
  });

  it('an unknown channel: check names it; read fails the stream with a config_error after the others', async () => {
    const unknown = Buffer.from('no-such-channel!').toString('base64');
    const cfg = withApns({ channel_ids: [CH_A, unknown, CH_B] });
    const c = await session.run('check', { config: cfg });
    assert.equal(c.code, 0);
    const status = c.messages.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
    assert.equal(status.status, 'FAILED');
    assert.ok(
      status.message.includes(`broadcast channel ${unknown} (apns.channel_ids[1])`),
      status.message,
    );

    const r = await read(
      only(CHANNEL),
      channelState({ [CH_A]: YESTERDAY, [CH_B]: YESTERDAY }),
      cfg,
    );
    assert.equal(r.code, 1);
    const [e] = errorsOf(r);
    assert.equal(e.failure_type, 'config_error');
    assert.ok(e.message.includes(unknown) && e.message.includes('apns.channel_ids[1]'), e.message);
    assert.deepEqual(statuses(r, CHANNEL), ['STARTED', 'RUNNING', 'INCOMPLETE']);
    // Both good channels were read; the last state covers all of their records.
    const days = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);
    assert.deepEqual(records(r, CHANNEL), [
      ...expectedChannel(CH_A, days),
      ...expectedChannel(CH_B, days),
    ]);
    assert.equal(
      states(r, CHANNEL).reduce((n, m) => n + m.state.sourceStats.recordCount, 0),
      6,
    );
  });

  it('incremental: the next sync re-reads only the lookback days', async () => {
    const first = await read(catalog);
    assert.equal(first.code, 0);
    emu.reset();
    const r = await read(catalog, stateFileOf(first));
    assert.equal(r.code, 0);
    const days = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);
    assert.deepEqual(records(r, APP), expectedApp(days));
    assert.deepEqual(records(r, CHANNEL), [
      ...expectedChannel(CH_A, days),
      ...expectedChannel(CH_B, days),
    ]);
    const future = await read(catalog, [
      ...appState('2099-01-01'),
      ...channelState({ [CH_A]: '2099-01-01', [CH_B]: '2099-01-01' }),
    ]);
    assert.equal(records(future).length, 0);
    assert.equal(states(future).length, 2);
  });

  describe('faults', () => {
    const small = (name: string) =>
      read(
        only(name),
        name === APP ? appState(YESTERDAY) : channelState({ [CH_A]: YESTERDAY, [CH_B]: YESTERDAY }),
      );
    const days = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);

    it('reset mid-body, expired URL, FAILED export and 429 on the channel stream', async () => {
      emu.inject({ kind: 'reset_mid_body', route: 'apns.download' });
      emu.inject({ kind: 'download_url_expired' });
      emu.inject({ kind: 'export_failed' });
      emu.inject({ kind: 'rate_limit', route: 'apns.status', retryAfterSeconds: 1 });
      const r = await small(CHANNEL);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, CHANNEL), [
        ...expectedChannel(CH_A, days),
        ...expectedChannel(CH_B, days),
      ]);
      assert.deepEqual(emu.pendingFaults(), []);
    });
    it('truncated body and 5xx on the app stream', async () => {
      emu.inject({ kind: 'truncated_body', route: 'apns.download' });
      emu.inject({ kind: 'server_error', route: 'apns.request', times: 2 });
      const r = await small(APP);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, APP), expectedApp(days));
    });
    it('a count that is not a number is synced null, marked in meta.changes', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'bad_count' });
      const r = await small(APP);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const [changed, ...more] = changedRecords(r, APP);
      assert.equal(more.length, 0);
      assert.equal(changed.data.broadcasts_published, null);
      assert.deepEqual(changed.changes, [nulled('broadcasts_published')]);
      assert.equal(records(r, APP).length, expectedApp(days).length);
      assert.ok(!r.stdout.includes('12x'), 'the value is never quoted');
    });
    it('a date that is not a date: the row is synced with date null, with the last day', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'bad_date' });
      const r = await small(APP);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const [changed] = changedRecords(r, APP);
      assert.equal(changed.data.date, null);
      assert.deepEqual(changed.changes, [nulled('date')]);
      assert.equal(records(r, APP).length, expectedApp(days).length);
      assert.ok(!r.stdout.includes('2026-13-45'), 'the value is never quoted');
    });
    it('a missing required column is named; an extra one is logged once', async () => {
      emu.inject({ kind: 'malformed_csv', variant: 'missing_column' });
      const missing = await small(APP);
      assert.equal(missing.code, 1);
      assert.match(errorsOf(missing)[0].message, /Total Subscriptions/);
      emu.inject({ kind: 'malformed_csv', variant: 'extra_column' });
      const extra = await small(APP);
      assert.equal(extra.code, 0);
      assert.equal(logsOf(extra, 'WARN').filter((l) => l.includes('"Region"')).length, 1);
    });
    it('a bad channel state is a config_error', async () => {
      const r = await read(only(CHANNEL), channelState({ [CH_A]: 'soon' }));
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'config_error');
      assert.match(errorsOf(r)[0].message, /channel .* date "soon"/);
    });
  });
});
