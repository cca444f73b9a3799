import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onesignalEventRows } from '../../emulator/onesignal';
import { checkChain } from '../../soak/check';
import type { ChainResult, SyncRun } from '../../soak/run';
import { scenarioOf, STOP_POINTS, VENDOR_STATES, type Scenario } from '../../soak/scenario';
import { CI_SEEDS, describeFailure, replayCommand } from '../../soak/soak';

const NOW_S = 1_796_600_000;

describe('soak: the seeded plan', () => {
  it('is a function of the seed', () => {
    assert.deepEqual(scenarioOf(77, NOW_S), scenarioOf(77, NOW_S));
    assert.notDeepEqual(scenarioOf(77, NOW_S), scenarioOf(78, NOW_S));
  });

  /** The vendor states and stop points (with their signals) that `seeds` reach. */
  const reached = (seeds: number[]) => {
    const applied = new Set<string>();
    const stops = new Set<string>();
    for (const seed of seeds) {
      const s = scenarioOf(seed, NOW_S);
      s.applied.forEach((a) => applied.add(a));
      s.syncs.forEach((x) => stops.add(x.stop.at).add(x.stop.signal));
    }
    return { applied: [...applied].sort(), stops: [...stops].sort() };
  };
  const everything = {
    applied: [...VENDOR_STATES.map((v) => v.name), 'full_refresh'].sort(),
    stops: [...STOP_POINTS.map((p) => p.name), 'SIGINT', 'SIGKILL', 'SIGTERM'].sort(),
  };

  it('reaches every vendor state and every stop point within 200 seeds', () => {
    assert.deepEqual(reached(Array.from({ length: 200 }, (_, i) => i + 1)), everything);
  });

  it("CI's seeds reach every vendor state and stop point (a new entry needs a seed that draws it)", () => {
    assert.deepEqual(reached(CI_SEEDS), everything);
  });
});

describe('soak: the invariants', () => {
  const appId = '11111111-2222-4333-8444-555555555555';
  const apiKey = 'os-key-unit-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  const message = {
    id: '99999999-2222-4333-8444-555555555555',
    sendAfter: NOW_S - 3600,
    completedAt: NOW_S - 3000,
    remaining: 0,
    events: 3,
  };
  const scenario: Scenario = {
    ...scenarioOf(1, NOW_S),
    providers: ['onesignal'],
    apns: undefined,
    pushwoosh: undefined,
    onesignal: {
      accounts: [{ accountId: 'a', apps: [{ appId, apiKey, messages: [message] }] }],
      apps: [{ appId, apiKey, account: 'a', revoked: false }],
      recordsPerSecond: 1000,
      revokedApps: [],
    },
    faults: [],
    syncs: [{ stop: { signal: 'SIGTERM', at: 'record', n: 1, delayMs: 0 } }],
    expectedConfigErrors: [],
    shortFiles: false,
    lasting: [],
    badCells: false,
    fullRefresh: false,
    lostExports: false,
  };
  const record = (i: number) =>
    JSON.stringify({
      type: 'RECORD',
      record: {
        stream: 'onesignal_message_events',
        emitted_at: 1,
        data: {
          app_id: appId,
          message_id: message.id,
          subscription_id: [...onesignalEventRows(appId, message.id, 3)][i].expected
            .subscription_id,
        },
      },
    });
  const messageRecord = JSON.stringify({
    type: 'RECORD',
    record: {
      stream: 'onesignal_messages',
      emitted_at: 1,
      data: { app_id: appId, message_id: message.id },
    },
  });
  const state = (cursor: string, count: number) =>
    JSON.stringify({
      type: 'STATE',
      state: {
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: 'onesignal_message_events' },
          stream_state: { cursor },
        },
        sourceStats: { recordCount: count },
      },
    });
  const sync = (
    index: number,
    kind: SyncRun['kind'],
    texts: string[],
    extra: Partial<SyncRun> = {},
  ): SyncRun => ({
    index,
    kind,
    code: 0,
    signal: null,
    lines: texts.map((text) => ({ at: 0, text })),
    tail: '',
    stderr: '',
    ms: 1,
    boundMs: 1000,
    overBound: false,
    tmpLeft: [],
    requests: [],
    released: [],
    leftRunning: [],
    ...extra,
  });
  const chain = (syncs: SyncRun[]): ChainResult => ({
    scenario,
    config: { onesignal: { apps: [{ app_id: appId, api_key: apiKey }] } },
    syncs,
    ms: 1,
  });
  const invariants = (c: ChainResult) => [...new Set(checkChain(c).map((v) => v.invariant))].sort();

  it('hold for a clean chain', () => {
    const ok = chain([
      sync(0, 'stopped', [record(0), state('a', 1)], {
        code: 143,
        stop: scenario.syncs[0].stop,
        signalledAt: 1,
      }),
      sync(1, 'final', [messageRecord, record(0), record(1), record(2), state('b', 3)]),
      sync(2, 'quiet', [state('b', 0)]),
    ]);
    assert.deepEqual(checkChain(ok), []);
  });

  it('flag a cut line, a leak, a left file, a repeated state, a wrong count, a failed final sync, lost and foreign records', () => {
    const foreign = record(0).replace(message.id, '00000000-0000-4000-8000-000000000000');
    const bad = chain([
      sync(
        0,
        'stopped',
        [
          record(0),
          state('a', 1),
          `{"type":"LOG","log":{"level":"INFO","message":"key ${apiKey}"}}`,
          record(1),
          state('a', 2),
        ],
        {
          code: 143,
          stop: scenario.syncs[0].stop,
          signalledAt: 1,
          tail: '{"type":"REC',
          tmpLeft: ['spdm-x/export.bin'],
        },
      ),
      sync(
        1,
        'final',
        [
          record(0),
          foreign,
          state('b', 5),
          '{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"stuck","failure_type":"transient_error"}}}',
        ],
        { code: 1 },
      ),
      sync(2, 'quiet', [state('b', 0)]),
    ]);
    assert.deepEqual(invariants(bad), [
      'cut_line',
      'duplicate_state',
      'foreign_records',
      'lost_records',
      'no_convergence',
      'record_count',
      'secret_leak',
      'spooled_file_left',
    ]);
    const text = describeFailure({ seed: 1, violations: checkChain(bad), ms: 1 });
    assert.ok(text.includes(replayCommand(1)) && !text.includes(apiKey), text);
  });

  it('flag a nulled cell meta.changes does not name, a nulled key, and a system_error after a SIGTERM', () => {
    const withMeta = (text: string, meta: unknown) =>
      text.replace(/\}\}$/, `,"meta":${JSON.stringify(meta)}}}`);
    const nulled = {
      changes: [{ field: 'sent', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' }],
    };
    const keyNulled = record(1).replace(/"subscription_id":"[^"]*"/, '"subscription_id":null');
    const stopped = scenario.syncs[0].stop;
    const bad = chain([
      sync(
        0,
        'stopped',
        [
          withMeta(record(0), nulled),
          keyNulled,
          state('a', 2),
          '{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"ENOENT export.bin","failure_type":"system_error"}}}',
        ].map((t) => t),
        { code: 143, stop: stopped, signalledAt: 0 },
      ),
      sync(1, 'final', [messageRecord, record(0), record(1), record(2), state('b', 3)]),
      sync(2, 'quiet', [state('b', 0)]),
    ]);
    // (The nulled key also reads as a key the emulator never served.)
    assert.deepEqual(invariants(bad), [
      'bad_cell',
      'error_after_stop',
      'foreign_records',
      'null_key',
    ]);
    // Served bad cells: a nulled non-key field that meta.changes names is fine.
    const served = { ...bad, scenario: { ...scenario, badCells: true } };
    const ok = chain([
      sync(
        0,
        'stopped',
        [
          withMeta(record(0).replace('"message_id"', '"sent":null,"message_id"'), nulled),
          state('a', 1),
        ],
        {
          code: 143,
          stop: stopped,
          signalledAt: 1,
        },
      ),
      ...bad.syncs.slice(1),
    ]);
    assert.deepEqual(checkChain({ ...ok, scenario: served.scenario }), []);
  });

  it('excuse a lasting fault in the final sync (INCOMPLETE, its records missing), not in the quiet sync', () => {
    const lasting: Scenario = {
      ...scenario,
      lasting: [
        {
          from: 0,
          streams: ['onesignal_message_events', 'onesignal_messages'],
          failureType: 'transient_error',
        },
      ],
    };
    const error =
      '{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"empty file","failure_type":"transient_error","stream_descriptor":{"name":"onesignal_message_events"}}}}';
    const status = (s: string) =>
      `{"type":"TRACE","trace":{"type":"STREAM_STATUS","stream_status":{"stream_descriptor":{"name":"onesignal_message_events"},"status":"${s}"}}}`;
    const run = (quiet: string[]) => [
      ...new Set(
        checkChain({
          ...chain([
            sync(0, 'stopped', [state('a', 0)], {
              code: 143,
              stop: scenario.syncs[0].stop,
              signalledAt: 1,
            }),
            sync(1, 'final', [messageRecord, state('a', 0), error, status('INCOMPLETE')], {
              code: 1,
            }),
            sync(2, 'quiet', quiet),
          ]),
          scenario: lasting,
        }).map((v) => v.invariant),
      ),
    ];
    assert.deepEqual(run([messageRecord, record(0), record(1), record(2), state('b', 3)]), []);
    assert.deepEqual(run([state('a', 0)]), ['lost_records']);
  });
});
