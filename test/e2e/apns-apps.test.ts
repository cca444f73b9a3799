/**
 * Several Apple apps (`apns.apps`): each app is its own partition with its own cursor and rows,
 * one app's bad token fails only that app, check names each failing field, both config forms at
 * once are refused, a state of 0.1.0 is read as the state of its one app, and an export is
 * bounded in rows.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_APNS_APPS } from '../../emulator/fixtures';
import {
  configuredCatalog,
  type Message,
  records,
  type RunResult,
  states,
  statuses,
} from '../../emulator/harness';
import { Emulator, type ApnsTeamFixture } from '../../emulator/server';
import { MAX_ROWS } from '../../src/providers/apns/day-groups';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import { broadcastAppExpected, broadcastChannelExpected, deliveryExpected } from '../support/apns';
import {
  ConnectorSession,
  errorsOf,
  logsOf,
  protocolProblems,
  schemaProblems,
} from '../support/e2e';

const DELIVERY = 'apns_delivery_metrics';
const APP = 'apns_broadcast_app';
const CHANNEL = 'apns_broadcast_channel';
const APPS = DEFAULT_APNS_APPS;
const TEAM_ID = APPS[0].teamId;
const TODAY = todayUtc();
const YESTERDAY = addDays(TODAY, -1);
const OLDEST = addDays(TODAY, -30);
const WINDOW = daysBetween(OLDEST, YESTERDAY);
const SECRETS = APPS.flatMap((a) => Object.values(a.tokens) as string[]);

/** An entry of `apns.apps` with every token of an emulator app. */
const entry = (a: ApnsTeamFixture) => ({
  bundle_id: a.bundleId,
  delivery_metrics_token: a.tokens.deliverymetrics,
  broadcast_app_token: a.tokens.broadcastapplicationmetric,
  broadcast_channel_token: a.tokens.broadcastchannelmetrics,
  channel_ids: a.channelIds,
});

/** Records in config order: each app's, then the next app's (per channel in config order). */
const deliveryOf = (apps: ApnsTeamFixture[], days = WINDOW) =>
  apps.flatMap((a) => deliveryExpected(days, a));
const channelsOf = (apps: ApnsTeamFixture[], days = WINDOW) =>
  apps.flatMap((a) => a.channelIds.flatMap((id) => broadcastChannelExpected(id, days, a)));

const lastState = (r: RunResult, stream: string) =>
  states(r, stream).at(-1)?.state.stream.stream_state as Record<string, unknown> | undefined;
const errorLine = (r: RunResult) => errorsOf(r)[0]?.message ?? '';
const connectionStatus = (r: RunResult) =>
  r.messages.find((m: Message) => m.type === 'CONNECTION_STATUS')!.connectionStatus as {
    status: string;
    message?: string;
  };

describe('APNs with several apps (apns.apps)', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let base: { team_id: string; api_url: string };
  const configOf = (apps: unknown[], extra: Record<string, unknown> = {}) => ({
    ...extra,
    apns: { ...base, apps },
  });
  const catalogOf = async (config: unknown, only?: string[]) =>
    configuredCatalog(await session.run('discover', { config }), 'incremental', only);
  const read = async (config: unknown, only?: string[], state?: unknown) =>
    session.run('read', { config, catalog: await catalogOf(config, only), state });
  /** The bundle ID of each export request, and the token it carried. */
  const requests = () =>
    emu.requests
      .filter((r) => r.route === 'apns.request')
      .map((r) => ({
        bundle: decodeURIComponent(/\/appId\/([^/]+)\//.exec(r.path)![1]),
        dataset: /datasetName\/([^/]+)\//.exec(r.path)![1],
        token: r.headers['x-apple-cloudkit-management-token'],
        body: JSON.parse(r.body) as { startDate: string; channelId?: string },
      }));

  before(async () => {
    emu = await Emulator.start({ apns: { processingPolls: 1 } });
    base = { team_id: TEAM_ID, api_url: emu.apiUrl };
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    session.assertNoLeaks(SECRETS);
    session.cleanup();
  });

  it('three apps, every stream: each app its own rows, bundle_id, token and cursor', async () => {
    const config = configOf(APPS.map(entry));
    const d = await session.run('discover', { config });
    const discovered = d.messages.find((m) => m.type === 'CATALOG')!.catalog;
    const r = await session.run('read', {
      config,
      catalog: configuredCatalog(d, 'incremental'),
    });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(protocolProblems(r), []);
    assert.deepEqual(schemaProblems(discovered, r), []);
    assert.deepEqual(records(r, DELIVERY), deliveryOf(APPS));
    assert.deepEqual(
      records(r, APP),
      APPS.flatMap((a) => broadcastAppExpected(WINDOW, a)),
    );
    assert.deepEqual(records(r, CHANNEL), channelsOf(APPS));
    for (const stream of [DELIVERY, APP, CHANNEL])
      assert.deepEqual(statuses(r, stream), ['STARTED', 'RUNNING', 'COMPLETE'], stream);

    assert.deepEqual(lastState(r, DELIVERY), {
      apps: Object.fromEntries(APPS.map((a) => [a.bundleId, { date: YESTERDAY }])),
    });
    assert.deepEqual(lastState(r, CHANNEL), {
      app_channels: Object.fromEntries(
        APPS.flatMap((a) => a.channelIds.map((id) => [`${a.bundleId}:${id}`, { date: YESTERDAY }])),
      ),
    });
    // One export per app and dataset (per channel), each with that app's own token.
    const sent = requests();
    assert.equal(sent.length, APPS.length * 2 + channelsOf(APPS, [YESTERDAY]).length);
    const tokenOf: Record<string, keyof ApnsTeamFixture['tokens']> = {
      deliverymetrics: 'deliverymetrics',
      broadcastapplicationmetric: 'broadcastapplicationmetric',
      broadcastchannelmetrics: 'broadcastchannelmetrics',
    };
    for (const s of sent) {
      const app = APPS.find((a) => a.bundleId === s.bundle)!;
      assert.equal(s.token, app.tokens[tokenOf[s.dataset]], `${s.bundle} ${s.dataset}`);
    }

    // The next sync goes on from each app's cursor: the lookback days only.
    emu.reset();
    const last = [DELIVERY, APP, CHANNEL].map((name) => ({
      type: 'STREAM',
      stream: states(r, name).at(-1)!.state.stream,
    }));
    const next = await read(config, undefined, last);
    assert.equal(next.code, 0, JSON.stringify(errorsOf(next)));
    const lookback = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);
    assert.deepEqual(records(next, DELIVERY), deliveryOf(APPS, lookback));
    assert.deepEqual(records(next, CHANNEL), channelsOf(APPS, lookback));
    assert.ok(requests().every((s) => s.body.startDate === lookback[0]));
  });

  it('a stream is discovered when any app has its token; the others are left out of it', async () => {
    const [a, b] = APPS;
    const config = configOf([
      { bundle_id: a.bundleId, delivery_metrics_token: a.tokens.deliverymetrics },
      {
        bundle_id: b.bundleId,
        broadcast_app_token: b.tokens.broadcastapplicationmetric,
        broadcast_channel_token: b.tokens.broadcastchannelmetrics,
      },
    ]);
    const d = await session.run('discover', { config });
    assert.deepEqual(
      d.messages[0].catalog.streams.map((s: { name: string }) => s.name),
      [DELIVERY, APP],
    );
    const r = await session.run('read', { config, catalog: configuredCatalog(d, 'incremental') });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(records(r, DELIVERY), deliveryExpected(WINDOW, a));
    assert.deepEqual(records(r, APP), broadcastAppExpected(WINDOW, b));
    assert.deepEqual(lastState(r, APP), { apps: { [b.bundleId]: { date: YESTERDAY } } });
    // The catalog names the channel stream: it is not available, and the message says why.
    const withChannel = {
      streams: [
        { stream: { name: CHANNEL }, sync_mode: 'incremental', destination_sync_mode: 'append' },
      ],
    };
    const c = await session.run('read', { config, catalog: withChannel });
    assert.match(errorLine(c), /the configuration lists no apns\.apps\[\]\.channel_ids/);
  });

  describe('one bad token among several apps', () => {
    const withBad = (bad: number[]) =>
      configOf(
        APPS.map((a, i) =>
          bad.includes(i)
            ? { ...entry(a), delivery_metrics_token: `wrong-token-of-app-${i}-0123456789` }
            : entry(a),
        ),
      );

    it('the other apps sync and checkpoint; the stream then fails naming apns.apps[1]', async () => {
      const r = await read(withBad([1]), [DELIVERY]);
      assert.equal(r.code, 1);
      assert.deepEqual(records(r, DELIVERY), deliveryOf([APPS[0], APPS[2]]));
      assert.deepEqual(lastState(r, DELIVERY), {
        apps: { [APPS[0].bundleId]: { date: YESTERDAY }, [APPS[2].bundleId]: { date: YESTERDAY } },
      });
      assert.deepEqual(statuses(r, DELIVERY), ['STARTED', 'RUNNING', 'INCOMPLETE']);
      const [e] = errorsOf(r);
      assert.equal(e.failure_type, 'config_error');
      assert.match(
        e.message,
        new RegExp(
          `^Apple rejected apns\\.apps\\[1\\]\\.delivery_metrics_token for deliverymetrics \\(HTTP 401: .*bundle ${APPS[1].bundleId.replace(/\./g, '\\.')}`,
        ),
      );
      assert.ok(
        logsOf(r, 'ERROR').some((l) =>
          l.startsWith(
            `${DELIVERY}: app ${APPS[1].bundleId} (apns.apps[1]) failed: Apple rejected`,
          ),
        ),
      );
    });

    it('two bad apps: one message names both, the third app still syncs', async () => {
      const r = await read(withBad([0, 2]), [DELIVERY]);
      assert.equal(r.code, 1);
      assert.deepEqual(records(r, DELIVERY), deliveryOf([APPS[1]]));
      const message = errorLine(r);
      assert.match(message, /^2 of 3 apps failed: /);
      assert.match(
        message,
        /apns\.apps\[0\]\.delivery_metrics_token .* \| .*apns\.apps\[2\]\.delivery_metrics_token/,
      );
    });
  });

  describe('check', () => {
    it('SUCCEEDED when every app proves every token', async () => {
      const c = await session.run('check', { config: configOf(APPS.map(entry)) });
      assert.equal(c.code, 0);
      assert.deepEqual(connectionStatus(c), { status: 'SUCCEEDED' });
      // One export request per app and token (per channel).
      assert.equal(requests().length, APPS.length * 2 + channelsOf(APPS, [YESTERDAY]).length);
    });

    it('FAILED naming each failing field, after trying every app', async () => {
      const apps = APPS.map(entry);
      apps[2].broadcast_app_token = 'wrong-broadcast-token-0123456789';
      apps[1].channel_ids = [
        APPS[1].channelIds[0],
        Buffer.from('no-such-channel!').toString('base64'),
      ];
      const c = await session.run('check', { config: configOf(apps) });
      assert.equal(c.code, 0);
      const status = connectionStatus(c);
      assert.equal(status.status, 'FAILED');
      assert.match(status.message!, /^Apple APNs: /);
      assert.match(
        status.message!,
        /\(apns\.apps\[1\]\.channel_ids\[1\]\) of bundle com\.example\.newsapp/,
      );
      assert.match(
        status.message!,
        /Apple rejected apns\.apps\[2\]\.broadcast_app_token for broadcastapplicationmetric/,
      );
      assert.equal(status.message!.split(' | ').length, 2);
      assert.ok(
        requests().some(
          (s) => s.bundle === APPS[2].bundleId && s.dataset === 'broadcastchannelmetrics',
        ),
      );
    });

    it('warns about an app with a channel token and no channel ids', async () => {
      const apps = APPS.map(entry);
      delete (apps[1] as Partial<(typeof apps)[1]>).channel_ids;
      const c = await session.run('check', { config: configOf(apps) });
      assert.deepEqual(connectionStatus(c), { status: 'SUCCEEDED' });
      assert.ok(
        logsOf(c, 'WARN').includes(
          'apns.apps[1].broadcast_channel_token is set but apns.apps[1].channel_ids is empty: apns_broadcast_channel does not sync this app and the token was not checked.',
        ),
      );
    });
  });

  it('a config with both forms is a config error that names both', async () => {
    const [a, b] = APPS;
    const config = {
      apns: {
        ...base,
        bundle_id: a.bundleId,
        delivery_metrics_token: a.tokens.deliverymetrics,
        apps: [entry(b)],
      },
    };
    const c = await session.run('check', { config });
    assert.equal(c.code, 0);
    const status = connectionStatus(c);
    assert.equal(status.status, 'FAILED');
    assert.match(
      status.message!,
      /apns has both apps \(apns\.apps\) and single-app fields \(apns\.bundle_id, apns\.delivery_metrics_token\); use one form/,
    );
    const r = await session.run('read', {
      config,
      catalog: {
        streams: [
          { stream: { name: DELIVERY }, sync_mode: 'incremental', destination_sync_mode: 'append' },
        ],
      },
    });
    assert.equal(r.code, 1);
    assert.equal(errorsOf(r)[0].failure_type, 'config_error');
    assert.match(errorLine(r), /apns has both apps/);
    assert.equal(requests().length, 0);
  });

  describe('a state saved by 0.1.0', () => {
    const [a, b] = APPS;
    const CURSOR = addDays(YESTERDAY, -6);
    const [CH_A, CH_B] = a.channelIds;
    /** A state file exactly as the platform kept it from 0.1.0's STATE messages. */
    const STATE_0_1_0 = `[
  {"type":"STREAM","stream":{"stream_descriptor":{"name":"apns_delivery_metrics"},"stream_state":{"date":"${CURSOR}"}}},
  {"type":"STREAM","stream":{"stream_descriptor":{"name":"apns_broadcast_app"},"stream_state":{"date":"${CURSOR}"}}},
  {"type":"STREAM","stream":{"stream_descriptor":{"name":"apns_broadcast_channel"},"stream_state":{"channels":{"${CH_A}":{"date":"${CURSOR}"},"${CH_B}":{"date":"${YESTERDAY}"}}}}}
]`;
    /** From the cursor minus the lookback (3 days) to yesterday. */
    const AFTER = daysBetween(addDays(CURSOR, -2), YESTERDAY);
    const LOOKBACK = daysBetween(addDays(YESTERDAY, -2), YESTERDAY);

    const checkUpgraded = (r: RunResult) => {
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, DELIVERY), deliveryExpected(AFTER, a));
      assert.deepEqual(records(r, APP), broadcastAppExpected(AFTER, a));
      assert.deepEqual(records(r, CHANNEL), [
        ...broadcastChannelExpected(CH_A, AFTER, a),
        ...broadcastChannelExpected(CH_B, LOOKBACK, a),
      ]);
      const starts = requests().map((s) => [s.dataset, s.body.channelId, s.body.startDate]);
      assert.deepEqual(
        starts.sort(),
        [
          ['broadcastapplicationmetric', undefined, AFTER[0]],
          ['broadcastchannelmetrics', CH_A, AFTER[0]],
          ['broadcastchannelmetrics', CH_B, LOOKBACK[0]],
          ['deliverymetrics', undefined, AFTER[0]],
        ].sort(),
      );
      assert.deepEqual(lastState(r, DELIVERY), { apps: { [a.bundleId]: { date: YESTERDAY } } });
      assert.deepEqual(lastState(r, CHANNEL), {
        app_channels: {
          [`${a.bundleId}:${CH_A}`]: { date: YESTERDAY },
          [`${a.bundleId}:${CH_B}`]: { date: YESTERDAY },
        },
      });
    };

    it('single-app config: read as that app’s, the next sync reads exactly the lookback days', async () => {
      const config = {
        apns: {
          ...base,
          bundle_id: a.bundleId,
          delivery_metrics_token: a.tokens.deliverymetrics,
          broadcast_app_token: a.tokens.broadcastapplicationmetric,
          broadcast_channel_token: a.tokens.broadcastchannelmetrics,
          channel_ids: a.channelIds,
        },
      };
      checkUpgraded(await read(config, undefined, STATE_0_1_0));
    });

    it('apps form with one app: the same', async () => {
      checkUpgraded(await read(configOf([entry(a)]), undefined, STATE_0_1_0));
    });

    it('apps form with several apps: a warning, and every app reads its whole window', async () => {
      const r = await read(configOf([entry(a), entry(b)]), [DELIVERY], STATE_0_1_0);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, DELIVERY), deliveryOf([a, b]));
      assert.ok(
        logsOf(r, 'WARN').includes(
          `${DELIVERY}: the saved state was written by version 0.1.0 for one app, and apns.apps lists 2; as it cannot tell which app it belongs to, every app reads its whole window.`,
        ),
      );
    });

    it('a bad date in it is still a config error naming it', async () => {
      const bad = STATE_0_1_0.replace(`"date":"${CURSOR}"`, '"date":"soon"');
      const r = await read(configOf([entry(a)]), [DELIVERY], bad);
      assert.equal(r.code, 1);
      assert.equal(errorsOf(r)[0].failure_type, 'config_error');
      assert.match(errorLine(r), /The saved state of stream apns_delivery_metrics has date "soon"/);
    });
  });
});

describe('APNs export bounds', () => {
  const session = new ConnectorSession();
  after(() => {
    session.assertNoLeaks(SECRETS);
    session.cleanup();
  });

  /** A full read of the default app's delivery metrics from exports of exactly `rows` rows. */
  async function syncRows(rows: number): Promise<RunResult> {
    const emu = await Emulator.start({ apns: { processingPolls: 0, deliveryRows: rows } });
    try {
      const a = APPS[0];
      const config = {
        apns: {
          team_id: TEAM_ID,
          apps: [{ bundle_id: a.bundleId, delivery_metrics_token: a.tokens.deliverymetrics }],
          api_url: emu.apiUrl,
        },
      };
      const catalog = configuredCatalog(await session.run('discover', { config }), 'full_refresh');
      return await session.run('read', { config, catalog });
    } finally {
      await emu.close();
    }
  }

  it(`an export of exactly ${MAX_ROWS} rows is synced whole`, async () => {
    const r = await syncRows(MAX_ROWS);
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    const got = records(r, DELIVERY);
    assert.equal(got.length, MAX_ROWS);
    assert.equal(new Set(got.map((x) => `${x.date} ${x.push_type} ${x.status}`)).size, MAX_ROWS);
  });

  it('one row more fails with a system_error that says why, and emits nothing', async () => {
    const r = await syncRows(MAX_ROWS + 1);
    assert.equal(r.code, 1);
    const [e] = errorsOf(r);
    assert.equal(e.failure_type, 'system_error');
    assert.match(
      e.message,
      new RegExp(
        `^APNs deliverymetrics export of ${APPS[0].bundleId.replace(/\./g, '\\.')} .*: more than ${MAX_ROWS} rows, far more than a 30-day export holds`,
      ),
    );
    assert.equal(records(r).length, 0);
    assert.equal(states(r).length, 0);
  });
});
