import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectorConfig, DEFAULT_APNS_APPS } from '../../emulator/fixtures';
import {
  CONNECTOR_BIN,
  configuredCatalog,
  type Message,
  records,
  type RunResult,
  statuses,
  writeJsonFiles,
} from '../../emulator/harness';
import { type Fault, Emulator } from '../../emulator/server';
import { appKey } from '../../src/providers/onesignal/messages';
import { addDays, todayUtc } from '../../src/util/time';
import { apnsState } from '../support/apns';
import { until, watch } from '../support/child';
import { ConnectorSession, FAST_ENV, protocolProblems } from '../support/e2e';

type Row = Record<string, unknown>;
type StreamState = Record<string, Record<string, Record<string, string>>>;

/**
 * Per stream: how a slow unit is made (so that attempt 1 is stopped mid-way), after how many
 * states it is stopped, and whether the state covers a record: its partition's cursor is at or
 * after the record's cursor value.
 */
const CASES: {
  stream: string;
  slow: Fault;
  stopAfterStates: number;
  covered(record: Row, state: StreamState): boolean;
}[] = [
  {
    stream: 'apns_delivery_metrics',
    // The second app's export request is answered 2 s late, so the first app's days and their
    // states are out well before the stream can end (which app's request comes first varies).
    slow: {
      kind: 'delay',
      route: 'apns.request',
      ms: 2000,
      pathIncludes: `/appId/${encodeURIComponent(DEFAULT_APNS_APPS[1].bundleId)}/`,
    },
    stopAfterStates: 1,
    covered: (r, s) => {
      const cursor = s.apps?.[r.bundle_id as string]?.date;
      return cursor !== undefined && (r.date as string) <= cursor;
    },
  },
  {
    stream: 'onesignal_message_events',
    slow: { kind: 'delay', route: 'onesignal.download', ms: 300, times: 100 },
    stopAfterStates: 3,
    covered: (r, s) => {
      const cursor = s.apps?.[appKey(r.app_id as string)]?.message_sent_at;
      return cursor !== undefined && (r.message_sent_at as string) <= cursor;
    },
  },
  {
    stream: 'pushwoosh_tracking',
    slow: { kind: 'delay', route: 'pushwoosh.getMessageLog', ms: 60, times: 1000 },
    stopAfterStates: 4,
    covered: (r, s) => {
      const cursor = s.applications?.[r.application_code as string]?.date;
      return cursor !== undefined && (r.timestamp as string).slice(0, 10) <= cursor;
    },
  },
];

const parseLines = (text: string): Message[] =>
  text
    .split('\n')
    // A line cut by SIGKILL is what the platform drops too.
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Message);

describe('resumable full refresh: a retry attempt continues after the last state of the one that failed', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  let config: Record<string, unknown>;
  let discovered: RunResult;

  before(async () => {
    emu = await Emulator.start({
      apns: { processingPolls: 1 },
      onesignal: { recordsPerSecond: 500_000, rateLimitWindowMs: 5 },
    });
    config = connectorConfig(emu.apiUrl);
    discovered = await session.run('discover', { config });
  });
  after(async () => {
    await emu.close();
    session.cleanup();
  });

  it('an incremental sync whose last unit re-reads lookback days ends without a repeated STATE', async () => {
    // The first app has new days (distinct states); the second only re-reads its lookback days,
    // whose checkpoints all equal the last state.
    const [a, b] = DEFAULT_APNS_APPS;
    const yesterday = addDays(todayUtc(), -1);
    emu.reset();
    const r = await session.run('read', {
      config,
      catalog: configuredCatalog(discovered, 'incremental', ['apns_delivery_metrics']),
      state: apnsState('apns_delivery_metrics', {
        [a.bundleId]: addDays(yesterday, -5),
        [b.bundleId]: yesterday,
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      records(r).some((x) => x.bundle_id === b.bundleId),
      'the lookback days were read',
    );
    assert.deepEqual(protocolProblems(r), []);
    const last = r.messages.filter((m) => m.type === 'STATE').pop()!;
    assert.deepEqual(last.state.stream.stream_state, {
      apps: { [a.bundleId]: { date: yesterday }, [b.bundleId]: { date: yesterday } },
    });
  });

  for (const c of CASES) {
    it(`${c.stream}: attempt 2 sends nothing the state covers, and both attempts hold every record`, async () => {
      const catalog = configuredCatalog(discovered, 'full_refresh', [c.stream]);
      const pk = (
        discovered.messages.find((m) => m.type === 'CATALOG')!.catalog.streams as {
          name: string;
          source_defined_primary_key: string[][];
        }[]
      ).find((s) => s.name === c.stream)!.source_defined_primary_key;
      const keyOf = (r: Row) => JSON.stringify(pk.map(([f]) => r[f]));

      emu.reset();
      const clean = await session.run('read', { config, catalog });
      assert.equal(clean.code, 0, clean.stderr);
      const all = new Set(records(clean, c.stream).map(keyOf));
      assert.ok(all.size > 0);

      // Attempt 1: a real process, killed once it has sent a few states.
      emu.reset();
      emu.inject(c.slow);
      const files = writeJsonFiles(`${session.dir}/attempt1-${c.stream}`, {
        'config.json': config,
        'catalog.json': catalog,
      });
      const child = watch(
        [
          process.execPath,
          CONNECTOR_BIN,
          'read',
          '--config',
          files['config.json'],
          '--catalog',
          files['catalog.json'],
        ],
        { env: FAST_ENV },
      );
      const stateLines = () => (child.stdout().match(/"type":"STATE"/g) ?? []).length;
      await until(`${c.stopAfterStates} states`, () => stateLines() >= c.stopAfterStates);
      child.proc.kill('SIGKILL');
      await child.exit;
      const first = parseLines(child.stdout());
      assert.ok(
        !first.some((m) => m.type === 'TRACE' && m.trace.stream_status?.status === 'COMPLETE'),
        'attempt 1 was stopped before its end',
      );
      // The platform keeps the records up to the last state, and passes that state on.
      const lastState = first
        .map((m, i) => [m, i] as const)
        .filter(([m]) => m.type === 'STATE')
        .pop()!;
      const before1 = first
        .slice(0, lastState[1])
        .filter((m) => m.type === 'RECORD')
        .map((m) => m.record.data as Row);
      const state = lastState[0].state.stream.stream_state as StreamState;

      emu.reset();
      const second = await session.run('read', {
        config,
        catalog,
        state: [{ type: 'STREAM', stream: lastState[0].state.stream }],
      });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(protocolProblems(second), []);
      assert.deepEqual(statuses(second, c.stream).at(-1), 'COMPLETE');
      const again = records(second, c.stream);
      const repeated = again.filter((r) => c.covered(r, state));
      assert.deepEqual(repeated.slice(0, 3), [], `${repeated.length} record(s) the state covers`);
      const union = new Set([...before1, ...again].map(keyOf));
      assert.deepEqual(
        [...all].filter((k) => !union.has(k)),
        [],
        'no record of a clean read is missing from the two attempts',
      );
      assert.deepEqual(
        [...union].filter((k) => !all.has(k)),
        [],
      );
      assert.ok(before1.length > 0 || again.length < all.size, 'attempt 2 did not start over');
    });
  }
});
