import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectorError, transientError } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import type { JsonObject } from '../../src/airbyte/protocol';
import type { StreamItem } from '../../src/airbyte/stream';
import { type Outcome, runAhead } from '../../src/exports/run-ahead';
import {
  PartitionedStream,
  type PartitionedStreamDefinition,
  type SyncContext,
  type UnitItem,
  type UnitOfWork,
} from '../../src/sync/partitioned-stream';
import {
  DAY_CURSOR,
  parseState,
  type StateLayout,
  StreamState,
  TIME_CURSOR,
} from '../../src/sync/state';
import { DayWindows, timeWindowStart } from '../../src/sync/window';
import { addDays } from '../../src/util/time';

const DAY_MS = 86_400_000;
const warnings = (logger: MemoryLogger) =>
  logger.lines.filter((l) => l.level === 'WARN').map((l) => l.message);

/** A promise settled from outside, to script the order in which work finishes. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks and immediates run (a few rounds: chains settle in steps). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A window's context in an incremental sync, and in a full refresh. */
const inc = (logger: MemoryLogger) => ({ logger, syncMode: 'incremental' as const });
const full = (logger: MemoryLogger) => ({ logger, syncMode: 'full_refresh' as const });

describe('TIME_CURSOR', () => {
  it("reads a time without a zone as UTC, whatever the machine's zone", () => {
    const saved = process.env.TZ;
    // Node applies a change of TZ at once.
    process.env.TZ = 'Asia/Kolkata';
    try {
      assert.equal(new Date(2026, 0, 1).getTimezoneOffset(), -330, 'the zone took effect');
      assert.equal(TIME_CURSOR.normalize('2026-11-15T08:30:00'), '2026-11-15T08:30:00.000Z');
      assert.equal(TIME_CURSOR.normalize('2026-11-15T08:30'), '2026-11-15T08:30:00.000Z');
      assert.equal(TIME_CURSOR.normalize('2026-11-15T08:30:00.250Z'), '2026-11-15T08:30:00.250Z');
      assert.equal(TIME_CURSOR.normalize('2026-11-15T08:30:00+05:30'), '2026-11-15T03:00:00.000Z');
      assert.equal(TIME_CURSOR.normalize('2026-11-15T08:30:00-0100'), '2026-11-15T09:30:00.000Z');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
  it('refuses what is not a real ISO 8601 time', () => {
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2026-11-15T24:00:00Z',
      '2026-11-15T08:60:00Z',
      '2026-11-15T08:30:00Z trailing',
      '2026-11-15',
      '2026-11-15 08:30:00Z',
      1763195400,
      null,
    ])
      assert.equal(TIME_CURSOR.normalize(bad), undefined, String(bad));
  });
});

describe('DayWindows', () => {
  const TODAY = '2026-11-20';
  // Like Apple: 30 days kept.
  const keep = { oldest: (today: string) => addDays(today, -30), retention: '30 days Apple keeps' };
  const windows = (startDate: string | undefined, lookbackDays: number) =>
    new DayWindows({ startDate, lookbackDays }, keep);

  it('starts a first sync at start_date and ends yesterday', () => {
    const logger = new MemoryLogger();
    assert.deepEqual(windows('2026-11-01', 3).of('s', undefined, TODAY, inc(logger)), {
      from: '2026-11-01',
      to: '2026-11-19',
    });
    assert.deepEqual(warnings(logger), []);
  });
  it('starts a first sync without start_date at the oldest day the vendor keeps', () => {
    const logger = new MemoryLogger();
    assert.deepEqual(windows(undefined, 3).of('s', undefined, TODAY, inc(logger)), {
      from: '2026-10-21',
      to: '2026-11-19',
    });
    assert.deepEqual(warnings(logger), [], 'no start_date asked for is not worth a warning');
  });
  it('starts a later sync lookback days before the first unread day', () => {
    const logger = new MemoryLogger();
    // Cursor 11-15 is the last complete day: 11-16 is the first unread; 3 days before it.
    assert.deepEqual(windows(undefined, 3).of('s', '2026-11-15', TODAY, inc(logger)), {
      from: '2026-11-13',
      to: '2026-11-19',
    });
    // Lookback 0 re-reads nothing.
    assert.deepEqual(
      windows('2026-11-01', 0).of('s', '2026-11-15', TODAY, inc(logger)).from,
      '2026-11-16',
    );
    assert.deepEqual(warnings(logger), []);
  });
  it('never starts before start_date, even when the lookback reaches past it', () => {
    const logger = new MemoryLogger();
    assert.equal(
      windows('2026-11-14', 5).of('s', '2026-11-15', TODAY, inc(logger)).from,
      '2026-11-14',
    );
  });
  it('clamps an old start_date to the oldest day, with a warning naming it', () => {
    const logger = new MemoryLogger();
    assert.deepEqual(windows('2026-01-01', 3).of('apns_x', undefined, TODAY, inc(logger)), {
      from: '2026-10-21',
      to: '2026-11-19',
    });
    assert.deepEqual(warnings(logger), [
      'apns_x: start_date 2026-01-01 is older than the 30 days Apple keeps; reading from 2026-10-21. Data before that is no longer available.',
    ]);
  });
  it('clamps an old cursor to the oldest day, with a warning naming cursor and lookback', () => {
    const logger = new MemoryLogger();
    assert.equal(
      windows(undefined, 3).of('apns_x', '2026-10-22', TODAY, inc(logger)).from,
      '2026-10-21',
    );
    assert.deepEqual(warnings(logger), [
      'apns_x: the saved cursor 2026-10-22 (minus 3 lookback days) is older than the 30 days Apple keeps; reading from 2026-10-21. Data before that is no longer available.',
    ]);
  });
  it('the oldest day itself is no reason to warn', () => {
    const logger = new MemoryLogger();
    assert.equal(
      windows('2026-10-21', 3).of('s', undefined, TODAY, inc(logger)).from,
      '2026-10-21',
    );
    assert.equal(
      windows(undefined, 3).of('s', '2026-10-23', TODAY, inc(logger)).from,
      '2026-10-21',
    );
    assert.deepEqual(warnings(logger), []);
  });
  it('a full refresh resumed from a state starts the day after its cursor: no lookback', () => {
    const logger = new MemoryLogger();
    assert.deepEqual(windows(undefined, 3).of('s', '2026-11-15', TODAY, full(logger)), {
      from: '2026-11-16',
      to: '2026-11-19',
    });
    // Without a state it starts at the beginning, as a first sync does.
    assert.equal(
      windows('2026-11-01', 3).of('s', undefined, TODAY, full(logger)).from,
      '2026-11-01',
    );
    assert.deepEqual(warnings(logger), []);
  });
  it('a cursor in the future gives an empty window (from after to)', () => {
    const logger = new MemoryLogger();
    const w = windows(undefined, 3).of('s', '2026-11-30', TODAY, inc(logger));
    assert.deepEqual(w, { from: '2026-11-28', to: '2026-11-19' });
    assert.ok(w.from > w.to);
    const fromToday = windows('2026-11-20', 0).of('s', undefined, TODAY, inc(logger));
    assert.ok(fromToday.from > fromToday.to, 'start_date today: nothing complete yet');
  });
});

describe('timeWindowStart', () => {
  const NOW = Date.parse('2026-11-20T12:00:00.000Z');
  const p = (cursor?: string) => ({
    label: 'onesignal app 1',
    cursor,
    now: NOW,
    keepDays: 30,
    retention: '30 days OneSignal keeps',
  });
  const oldest = new Date(NOW - 30 * DAY_MS).toISOString();

  it('starts at start_date, at the cursor minus the lookback, or at the oldest time', () => {
    const logger = new MemoryLogger();
    const start = (startDate: string | undefined, lookbackDays: number, cursor?: string) =>
      timeWindowStart({ startDate, lookbackDays }, p(cursor), inc(logger)).toISOString();
    assert.equal(start('2026-11-10', 2), '2026-11-10T00:00:00.000Z');
    assert.equal(start(undefined, 2, '2026-11-15T08:30:00.000Z'), '2026-11-13T08:30:00.000Z');
    assert.equal(start('2026-11-14', 2, '2026-11-15T08:30:00.000Z'), '2026-11-14T00:00:00.000Z');
    assert.equal(start(undefined, 2), oldest);
    assert.deepEqual(warnings(logger), []);
  });
  it('a full refresh resumed from a state starts right after its cursor: no lookback', () => {
    const logger = new MemoryLogger();
    const cursor = '2026-11-15T08:30:00.000Z';
    assert.equal(
      timeWindowStart({ lookbackDays: 2 }, p(cursor), full(logger)).toISOString(),
      cursor,
    );
  });
  it('clamps to the oldest time, warning only beyond a minute of slack', () => {
    const logger = new MemoryLogger();
    const justOlder = new Date(NOW - 30 * DAY_MS - 30_000).toISOString();
    assert.equal(
      timeWindowStart({ lookbackDays: 0 }, p(justOlder), inc(logger)).toISOString(),
      oldest,
    );
    assert.deepEqual(warnings(logger), [], '30 s older is within the slack');
    assert.equal(
      timeWindowStart({ startDate: '2026-01-01', lookbackDays: 0 }, p(), inc(logger)).toISOString(),
      oldest,
    );
    assert.deepEqual(warnings(logger), [
      `onesignal app 1: start_date 2026-01-01T00:00:00.000Z is older than the 30 days OneSignal keeps; reading from ${oldest}. Data before that is no longer available.`,
    ]);
  });
  it('names the cursor and lookback when the cursor is what is too old', () => {
    const logger = new MemoryLogger();
    timeWindowStart({ lookbackDays: 3 }, p('2026-10-22T00:00:00.000Z'), inc(logger));
    assert.match(
      warnings(logger)[0],
      /^onesignal app 1: the saved cursor 2026-10-22T00:00:00\.000Z \(minus 3 lookback days\) is older than the 30 days OneSignal keeps/,
    );
  });
});

describe('parseState', () => {
  const single: StateLayout = { field: 'date', kind: DAY_CURSOR };
  const channels: StateLayout = {
    field: 'date',
    kind: DAY_CURSOR,
    partitions: { group: 'channels', label: 'channel' },
  };
  const apps: StateLayout = {
    field: 'sent_at',
    kind: TIME_CURSOR,
    partitions: { group: 'apps', label: 'app' },
  };
  /** The config_error parseState throws, matched on its message. */
  const rejects = (layout: StateLayout, raw: unknown, message: RegExp) =>
    assert.throws(
      () => parseState(layout, raw, 'stream_x'),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'config_error' &&
        /^The saved state of stream stream_x /.test(e.message) &&
        / Reset the stream's state or correct it\.$/.test(e.message) &&
        message.test(e.message),
      `${JSON.stringify(raw)} should fail with ${message}`,
    );

  it('accepts a single cursor and {} (no state)', () => {
    assert.deepEqual(parseState(single, { date: '2026-11-03' }, 's'), { date: '2026-11-03' });
    assert.deepEqual(parseState(single, {}, 's'), {});
    assert.deepEqual(parseState(single, { date: '2026-11-03', other: 1 }, 's'), {
      date: '2026-11-03',
    });
  });
  it('rejects a single cursor that is garbage or not a real day, naming the value', () => {
    rejects(single, 'garbage', /must be an object, not a string/);
    rejects(single, null, /must be an object, not null/);
    rejects(single, [1], /must be an object, not a list/);
    rejects(
      single,
      { date: '2026-02-30' },
      /has date "2026-02-30", which is not a date written YYYY-MM-DD/,
    );
    rejects(
      single,
      { date: 20261103 },
      /has date 20261103, which is not a date written YYYY-MM-DD/,
    );
    rejects(single, { date: '2026-11-03T00:00:00Z' }, /has date "2026-11-03T00:00:00Z"/);
  });
  it('accepts partitioned cursors and {}; time cursors come out canonical', () => {
    assert.deepEqual(
      parseState(
        channels,
        { channels: { c1: { date: '2026-11-01' }, c2: { date: '2026-11-02' } } },
        's',
      ),
      { channels: { c1: { date: '2026-11-01' }, c2: { date: '2026-11-02' } } },
    );
    assert.deepEqual(parseState(channels, {}, 's'), {});
    assert.deepEqual(parseState(channels, { channels: {} }, 's'), { channels: {} });
    assert.deepEqual(
      parseState(apps, { apps: { a: { sent_at: '2026-11-03T10:00:00+02:00' } } }, 's'),
      {
        apps: { a: { sent_at: '2026-11-03T08:00:00.000Z' } },
      },
    );
  });
  it('rejects partitioned state that is garbage, naming the group, partition and value', () => {
    rejects(channels, 'x', /must be an object, not a string/);
    rejects(channels, { channels: [] }, /has "channels" that is not an object/);
    rejects(channels, { channels: 'c1' }, /has "channels" that is not an object/);
    rejects(
      channels,
      { channels: { c1: { date: '2026-11-01' }, c2: { date: 'yesterday' } } },
      /has channel c2 with date "yesterday", which is not a date written YYYY-MM-DD/,
    );
    rejects(channels, { channels: { c1: '2026-11-01' } }, /has channel c1 with date undefined/);
    rejects(channels, { channels: { c1: {} } }, /has channel c1 with date undefined/);
    rejects(
      apps,
      { apps: { a: { sent_at: '2026-11-03' } } },
      /has app a with sent_at "2026-11-03", which is not an ISO 8601 time/,
    );
    rejects(
      apps,
      { apps: { a: { sent_at: '2026-13-45T99:00:00Z' } } },
      /which is not an ISO 8601 time/,
    );
  });
});

describe('StreamState', () => {
  const channels: StateLayout = {
    field: 'date',
    kind: DAY_CURSOR,
    partitions: { group: 'channels', label: 'channel' },
  };

  it('hands out saved cursors and never moves one back', () => {
    const s = new StreamState({ field: 'date', kind: DAY_CURSOR }, { date: '2026-11-10' });
    assert.equal(s.cursor(), '2026-11-10');
    assert.deepEqual(s.advance(undefined, '2026-11-08'), { date: '2026-11-10' }, 'lookback day');
    assert.deepEqual(s.advance(undefined, '2026-11-11'), { date: '2026-11-11' });
    assert.deepEqual(s.advance(undefined, '2026-11-09'), { date: '2026-11-11' });
    assert.equal(s.cursor(), '2026-11-11');
  });
  it('starts empty without a saved state', () => {
    const s = new StreamState({ field: 'date', kind: DAY_CURSOR }, undefined);
    assert.equal(s.cursor(), undefined);
    assert.deepEqual(s.snapshot(), {});
    assert.deepEqual(s.advance(undefined, '2026-11-01'), { date: '2026-11-01' });
  });
  it('keeps partitions this sync does not touch, and adds new ones', () => {
    const s = new StreamState(channels, {
      channels: { c1: { date: '2026-11-10' }, gone: { date: '2026-10-01' } },
    });
    assert.equal(s.cursor('c1'), '2026-11-10');
    assert.equal(s.cursor('c2'), undefined);
    s.advance('c1', '2026-11-05');
    const next = s.advance('c2', '2026-11-12');
    assert.deepEqual(next, {
      channels: {
        c1: { date: '2026-11-10' },
        gone: { date: '2026-10-01' },
        c2: { date: '2026-11-12' },
      },
    });
  });
  it('snapshot and advance return copies', () => {
    const incoming = { channels: { c1: { date: '2026-11-10' } } };
    const s = new StreamState(channels, incoming);
    const snap = s.snapshot() as { channels: Record<string, { date: string }> };
    snap.channels.c1.date = '2099-01-01';
    snap.channels.c9 = { date: '2099-01-01' };
    const adv = s.advance('c1', '2026-11-11') as { channels: Record<string, { date: string }> };
    adv.channels.c1.date = '1999-01-01';
    assert.deepEqual(s.snapshot(), { channels: { c1: { date: '2026-11-11' } } });
    assert.deepEqual(incoming, { channels: { c1: { date: '2026-11-10' } } }, 'input untouched');
    const single = new StreamState({ field: 'date', kind: DAY_CURSOR }, { date: '2026-11-10' });
    (single.snapshot() as { date: string }).date = '2099-01-01';
    assert.equal(single.cursor(), '2026-11-10');
  });
});

describe('runAhead', () => {
  /** Consumes every outcome, as `[item, value or error message]`. */
  async function collect<T>(gen: AsyncGenerator<Outcome<number, T>>) {
    const out: [number, unknown][] = [];
    for await (const o of gen) out.push([o.item, o.ok ? o.value : (o.error as Error).message]);
    return out;
  }

  it('yields outcomes in item order when later items finish first', async () => {
    const d = [0, 1, 2, 3].map(() => deferred<string>());
    const gen = runAhead([0, 1, 2, 3], (i) => d[i].promise, { ahead: Infinity });
    const all = collect(gen);
    for (const i of [3, 1, 2, 0]) {
      d[i].resolve(`v${i}`);
      await settle();
    }
    assert.deepEqual(await all, [
      [0, 'v0'],
      [1, 'v1'],
      [2, 'v2'],
      [3, 'v3'],
    ]);
  });
  for (const ahead of [0, 1, 2, 3]) {
    it(`never has more than ahead + 1 items running or unconsumed (ahead ${ahead})`, async () => {
      let live = 0;
      let maxLive = 0;
      let running = 0;
      let maxRunning = 0;
      const items = [...Array(8).keys()];
      const gen = runAhead(
        items,
        async (i) => {
          live++;
          running++;
          maxLive = Math.max(maxLive, live);
          maxRunning = Math.max(maxRunning, running);
          await settle();
          running--;
          return i;
        },
        { ahead },
      );
      const seen: number[] = [];
      for await (const o of gen) {
        assert.ok(o.ok);
        seen.push(o.value);
        await settle(); // a slow consumer: the ones ahead finish meanwhile
        live--;
      }
      assert.deepEqual(seen, items);
      assert.equal(maxLive, ahead + 1, 'started but not yet consumed');
      assert.ok(maxRunning <= ahead + 1, `running at once: ${maxRunning}`);
    });
  }
  it('ahead 0 is strictly sequential: the next starts only after the consumer is done', async () => {
    const log: string[] = [];
    const gen = runAhead(
      [0, 1, 2],
      async (i) => {
        log.push(`start ${i}`);
        await settle();
        log.push(`done ${i}`);
        return i;
      },
      { ahead: 0 },
    );
    for await (const o of gen) {
      log.push(`got ${o.item}`);
      await settle();
      log.push(`used ${o.item}`);
    }
    assert.deepEqual(log, [
      'start 0',
      'done 0',
      'got 0',
      'used 0',
      'start 1',
      'done 1',
      'got 1',
      'used 1',
      'start 2',
      'done 2',
      'got 2',
      'used 2',
    ]);
  });
  it('ahead Infinity starts every item before the first is consumed', async () => {
    const started: number[] = [];
    const gen = runAhead(
      [0, 1, 2, 3, 4],
      async (i) => {
        started.push(i);
        return i;
      },
      { ahead: Infinity },
    );
    const first = await gen.next();
    assert.equal(first.done, false);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.deepEqual(
      await collect(gen),
      [1, 2, 3, 4].map((i) => [i, i]),
    );
  });
  it('a failure comes out as an outcome in its place; the rest still run', async () => {
    const gen = runAhead(
      [0, 1, 2],
      async (i) => {
        if (i === 1) throw new Error('one failed');
        return `v${i}`;
      },
      { ahead: 1 },
    );
    assert.deepEqual(await collect(gen), [
      [0, 'v0'],
      [1, 'one failed'],
      [2, 'v2'],
    ]);
  });
  it('yields nothing for no items and starts nothing', async () => {
    let starts = 0;
    const gen = runAhead([], async () => starts++, { ahead: 2 });
    assert.deepEqual(await collect(gen), []);
    assert.equal(starts, 0);
  });
  it('a start that throws synchronously comes out as an outcome', async () => {
    const gen = runAhead(
      [0, 1],
      (i) => {
        if (i === 1) throw new Error('sync throw');
        return Promise.resolve(i);
      },
      { ahead: 1 },
    );
    assert.deepEqual(await collect(gen), [
      [0, 0],
      [1, 'sync throw'],
    ]);
  });

  /** A run whose values record their disposal; item `pendingItem` finishes only when told. */
  function disposalRun(ahead: number, opts: { failing?: number; pendingItem?: number } = {}) {
    const started: number[] = [];
    const disposed: number[] = [];
    const pending = deferred<void>();
    const gen = runAhead(
      [0, 1, 2, 3, 4, 5],
      async (i) => {
        started.push(i);
        if (i === opts.pendingItem) await pending.promise;
        if (i === opts.failing) throw new Error(`item ${i} failed`);
        return { i };
      },
      { ahead, dispose: (v) => disposed.push(v.i) },
    );
    return { gen, started, disposed, finishPending: () => pending.resolve() };
  }

  it('disposes, once, every value started but not yielded when the consumer returns early', async () => {
    const run = disposalRun(2, { pendingItem: 2 });
    const got: number[] = [];
    for await (const o of run.gen) {
      got.push(o.item);
      if (o.item === 0) break;
    }
    await settle();
    assert.deepEqual(got, [0]);
    assert.deepEqual(run.started, [0, 1, 2], 'items 3.. never started');
    assert.deepEqual(run.disposed, [1], 'item 2 is disposed once it settles');
    run.finishPending();
    await settle();
    await settle();
    assert.deepEqual(
      run.disposed.sort((a, b) => a - b),
      [1, 2],
    );
  });
  it('disposes the unyielded values when the consumer throws, and none that was yielded', async () => {
    const run = disposalRun(3, { failing: 2 });
    await assert.rejects(
      (async () => {
        for await (const o of run.gen) if (o.item === 1) throw new Error('consumer broke');
      })(),
      /consumer broke/,
    );
    await settle();
    assert.deepEqual(run.started, [0, 1, 2, 3, 4]);
    assert.deepEqual(
      run.disposed.sort((a, b) => a - b),
      [3, 4],
      'not 0 and 1 (yielded), not 2 (no value)',
    );
  });
  it('disposes the unyielded values on gen.return() and gen.throw()', async () => {
    for (const stop of ['return', 'throw'] as const) {
      const run = disposalRun(Infinity);
      await run.gen.next();
      await run.gen.next();
      if (stop === 'return') await run.gen.return(undefined);
      else await assert.rejects(run.gen.throw(new Error('stop')), /stop/);
      await settle();
      assert.deepEqual(
        run.disposed.sort((a, b) => a - b),
        [2, 3, 4, 5],
        stop,
      );
      assert.deepEqual(await run.gen.next(), { done: true, value: undefined }, stop);
      await settle();
      assert.equal(run.disposed.length, 4, `${stop}: each value disposed exactly once`);
    }
  });
  it('disposes nothing when every outcome is consumed', async () => {
    const run = disposalRun(2);
    assert.equal((await collect(run.gen)).length, 6);
    await settle();
    assert.deepEqual(run.disposed, []);
  });
});

// ---------------------------------------------------------------------------------------------
// PartitionedStream: the template around a fake definition.

interface FakeUnit extends UnitOfWork {
  id: string;
  /** Cursor positions the unit's read advances to, each after one record. */
  advances: string[];
}

interface Fetched {
  unit: string;
}

/** What a fake stream's units do, and what the template did with them. */
interface Script {
  failFetch?: Set<string>;
  /** Units whose read throws after its first record. */
  failRead?: Set<string>;
  /** Headers each unit's read reports as unknown. */
  unknown?: Record<string, string[]>;
}

function fakeStream(
  units: FakeUnit[],
  opts: { isolate: boolean; ahead: number; layout?: StateLayout } & Script,
) {
  const log = {
    fetched: [] as string[],
    disposed: [] as string[],
    read: [] as string[],
    /** The unit's saved cursor, as the read saw it. */
    cursorAtRead: {} as Record<string, string | undefined>,
    planState: undefined as JsonObject | undefined,
    finished: 0,
  };
  const def: PartitionedStreamDefinition<FakeUnit, Fetched> = {
    name: 'fake_stream',
    primaryKey: [['id']],
    cursorField: 'date',
    state: opts.layout ?? {
      field: 'date',
      kind: DAY_CURSOR,
      partitions: { group: 'channels', label: 'channel' },
    },
    ahead: opts.ahead,
    isolatePartitions: opts.isolate,
    async plan(ctx: SyncContext) {
      log.planState = ctx.cursors.snapshot();
      return units;
    },
    async fetch(unit) {
      log.fetched.push(unit.id);
      await settle();
      if (opts.failFetch?.has(unit.id)) throw transientError(`fetch of ${unit.id} failed`);
      return { unit: unit.id };
    },
    async dispose(f) {
      log.disposed.push(f.unit);
    },
    async *read(unit, fetched, ctx): AsyncIterable<UnitItem> {
      assert.equal(fetched.unit, unit.id, 'read gets its own unit’s fetched value');
      log.read.push(unit.id);
      log.cursorAtRead[unit.id] = ctx.cursors.cursor(unit.partition);
      for (const h of opts.unknown?.[unit.id] ?? []) ctx.unknownColumn(h);
      for (const [k, day] of unit.advances.entries()) {
        yield { records: [JSON.stringify({ id: `${unit.id}.${k}` })] };
        if (opts.failRead?.has(unit.id)) throw new Error(`read of ${unit.id} broke`);
        yield { advance: day };
      }
    },
    finish() {
      log.finished++;
    },
  };
  return { stream: new PartitionedStream(def), log };
}

const unit = (id: string, partition: string | undefined, advances: string[]): FakeUnit => ({
  id,
  partition,
  partitionLabel: partition && `channel ${partition}`,
  advances,
});

/** Runs a stream's read to the end; returns what it yielded and what it threw. */
async function drain(stream: PartitionedStream<FakeUnit, Fetched>, state?: JsonObject) {
  const logger = new MemoryLogger();
  const items: StreamItem[] = [];
  let error: unknown;
  try {
    for await (const item of stream.read({
      logger,
      syncMode: 'incremental',
      state,
      estimate: () => {},
    }))
      items.push(item);
  } catch (err) {
    error = err;
  }
  return { items, error, logger };
}

/** Items as short strings: `R:<ids>` for records, `S:<state>` for checkpoints. */
const short = (items: StreamItem[]) =>
  items.map((i) =>
    i.kind === 'records'
      ? `R:${i.json.map((j) => (JSON.parse(j) as { id: string }).id).join(',')}`
      : i.kind === 'checkpoint'
        ? `S:${JSON.stringify(i.state)}`
        : 'record',
  );

const once = (list: string[]) => [...list].sort();

describe('PartitionedStream', () => {
  const SINGLE: StateLayout = { field: 'date', kind: DAY_CURSOR };

  it('checkpoints after each advance and after each unit; cursors never move back', async () => {
    const { stream, log } = fakeStream(
      [unit('u1', undefined, ['2026-11-01', '2026-11-02']), unit('u2', undefined, ['2026-11-01'])],
      { isolate: false, ahead: 1, layout: SINGLE },
    );
    const { items, error } = await drain(stream);
    assert.equal(error, undefined);
    assert.deepEqual(short(items), [
      'R:u1.0',
      'S:{"date":"2026-11-01"}',
      'R:u1.1',
      'S:{"date":"2026-11-02"}',
      'S:{"date":"2026-11-02"}',
      'R:u2.0',
      'S:{"date":"2026-11-02"}',
      'S:{"date":"2026-11-02"}',
    ]);
    assert.deepEqual(log.finished, 1, 'finish is called after the last unit');
    assert.deepEqual(once(log.disposed), ['u1', 'u2']);
  });
  it('passes the saved state to plan, and each unit’s advances to the units after it', async () => {
    const { stream, log } = fakeStream(
      [
        unit('a1', 'a', ['2026-11-05']),
        unit('b1', 'b', ['2026-11-06']),
        unit('a2', 'a', ['2026-11-07']),
      ],
      { isolate: true, ahead: 0 },
    );
    const saved = { channels: { a: { date: '2026-11-01' }, z: { date: '2026-10-01' } } };
    const { items, error } = await drain(stream, saved);
    assert.equal(error, undefined);
    assert.deepEqual(log.planState, saved);
    assert.deepEqual(log.cursorAtRead, { a1: '2026-11-01', b1: undefined, a2: '2026-11-05' });
    const last = items[items.length - 1];
    assert.deepEqual(last, {
      kind: 'checkpoint',
      state: {
        channels: {
          a: { date: '2026-11-07' },
          z: { date: '2026-10-01' },
          b: { date: '2026-11-06' },
        },
      },
    });
  });
  for (const ahead of [0, 1, Infinity]) {
    it(`isolatePartitions: a failing partition's later units are skipped; the others complete (ahead ${ahead})`, async () => {
      const { stream, log } = fakeStream(
        [
          unit('a1', 'a', ['2026-11-01']),
          unit('b1', 'b', ['2026-11-01']),
          unit('a2', 'a', ['2026-11-02']),
          unit('b2', 'b', ['2026-11-02']),
          unit('a3', 'a', ['2026-11-03']),
        ],
        { isolate: true, ahead, failFetch: new Set(['a1']) },
      );
      const { items, error, logger } = await drain(stream);
      assert.deepEqual(short(items), [
        'R:b1.0',
        'S:{"channels":{"b":{"date":"2026-11-01"}}}',
        'S:{"channels":{"b":{"date":"2026-11-01"}}}',
        'R:b2.0',
        'S:{"channels":{"b":{"date":"2026-11-02"}}}',
        'S:{"channels":{"b":{"date":"2026-11-02"}}}',
      ]);
      assert.deepEqual(log.read, ['b1', 'b2'], 'no later unit of partition a is read');
      if (ahead === 0) assert.deepEqual(log.fetched, ['a1', 'b1', 'b2'], 'nor fetched');
      if (ahead === Infinity) assert.equal(log.fetched.length, 5, 'all fetched at once');
      const fetchedOk = log.fetched.filter((id) => id !== 'a1');
      assert.deepEqual(once(log.disposed), once(fetchedOk), 'every fetched value disposed once');
      assert.ok(error instanceof ConnectorError);
      assert.equal(error.message, 'fetch of a1 failed');
      assert.equal(error.failureType, 'transient_error');
      assert.deepEqual(
        logger.lines.filter((l) => l.level === 'ERROR').map((l) => l.message),
        ['fake_stream: channel a failed: fetch of a1 failed'],
      );
      assert.equal(log.finished, 1);
    });
  }
  it('isolatePartitions: the stream throws at the end with every partition’s message', async () => {
    const { stream, log } = fakeStream(
      [
        unit('a1', 'a', ['2026-11-01', '2026-11-02']),
        unit('b1', 'b', ['2026-11-01']),
        unit('c1', 'c', ['2026-11-01']),
        unit('a2', 'a', ['2026-11-03']),
      ],
      { isolate: true, ahead: Infinity, failRead: new Set(['a1']), failFetch: new Set(['c1']) },
    );
    const { items, error } = await drain(stream);
    assert.ok(error instanceof ConnectorError);
    assert.equal(
      error.message,
      '2 of 3 channels failed: Unexpected error: read of a1 broke | fetch of c1 failed',
    );
    assert.equal(error.failureType, 'system_error', 'the first failure’s type');
    assert.deepEqual(short(items), [
      'R:a1.0',
      'R:b1.0',
      'S:{"channels":{"b":{"date":"2026-11-01"}}}',
      'S:{"channels":{"b":{"date":"2026-11-01"}}}',
    ]);
    assert.deepEqual(once(log.disposed), ['a1', 'a2', 'b1'], 'a1 despite its failed read');
    assert.equal(log.finished, 1);
  });
  it('without isolation the first failure throws, and what ran ahead is disposed', async () => {
    const { stream, log } = fakeStream(
      [
        unit('a1', 'a', ['2026-11-01']),
        unit('b1', 'b', ['2026-11-01']),
        unit('a2', 'a', ['2026-11-02']),
        unit('b2', 'b', ['2026-11-02']),
      ],
      { isolate: false, ahead: Infinity, failFetch: new Set(['b1']) },
    );
    const { items, error } = await drain(stream);
    assert.ok(error instanceof ConnectorError);
    assert.equal(error.message, 'fetch of b1 failed');
    assert.deepEqual(short(items), [
      'R:a1.0',
      'S:{"channels":{"a":{"date":"2026-11-01"}}}',
      'S:{"channels":{"a":{"date":"2026-11-01"}}}',
    ]);
    assert.deepEqual(log.read, ['a1']);
    assert.equal(log.finished, 1, 'the summary is logged after a failure too');
    await settle();
    assert.deepEqual(once(log.disposed), ['a1', 'a2', 'b2']);
  });
  it('disposes a unit that fails mid-read exactly once, and checkpoints nothing after it', async () => {
    const { stream, log } = fakeStream(
      [unit('u1', undefined, ['2026-11-01', '2026-11-02']), unit('u2', undefined, ['2026-11-03'])],
      { isolate: false, ahead: 1, layout: SINGLE, failRead: new Set(['u1']) },
    );
    const { items, error } = await drain(stream);
    assert.match((error as Error).message, /read of u1 broke/);
    assert.deepEqual(short(items), ['R:u1.0']);
    await settle();
    assert.deepEqual(once(log.disposed), ['u1', 'u2']);
  });
  it('disposes everything fetched when its consumer stops reading early', async () => {
    const { stream, log } = fakeStream(
      [
        unit('u1', undefined, ['2026-11-01', '2026-11-02']),
        unit('u2', undefined, ['2026-11-03']),
        unit('u3', undefined, ['2026-11-04']),
      ],
      { isolate: false, ahead: 1, layout: SINGLE },
    );
    const gen = stream.read({
      logger: new MemoryLogger(),
      syncMode: 'incremental',
      state: undefined,
      estimate: () => {},
    });
    assert.equal(((await gen.next()).value as StreamItem).kind, 'records');
    await gen.return(undefined);
    await settle();
    assert.deepEqual(log.fetched, ['u1', 'u2']);
    assert.deepEqual(once(log.disposed), ['u1', 'u2']);
  });
  it('logs an unknown column once per header and sync', async () => {
    const { stream } = fakeStream(
      [unit('u1', undefined, ['2026-11-01']), unit('u2', undefined, ['2026-11-02'])],
      {
        isolate: false,
        ahead: 0,
        layout: SINGLE,
        unknown: { u1: ['Extra', 'Extra', 'Other'], u2: ['Extra', 'Other', 'Third'] },
      },
    );
    const { error, logger } = await drain(stream);
    assert.equal(error, undefined);
    assert.deepEqual(warnings(logger), [
      'fake_stream: the export has a column "Extra" that this connector does not know; it is not synced.',
      'fake_stream: the export has a column "Other" that this connector does not know; it is not synced.',
      'fake_stream: the export has a column "Third" that this connector does not know; it is not synced.',
    ]);
  });
  it('validates the saved state with its layout', () => {
    const { stream } = fakeStream([], { isolate: false, ahead: 0 });
    assert.deepEqual(stream.parseState({}), {});
    assert.throws(() => stream.parseState({ channels: 5 }), /stream fake_stream has "channels"/);
  });
  it('with no units yields nothing and still finishes', async () => {
    const { stream, log } = fakeStream([], { isolate: true, ahead: 1 });
    const { items, error } = await drain(stream, { channels: { a: { date: '2026-11-01' } } });
    assert.equal(error, undefined);
    assert.deepEqual(items, []);
    assert.equal(log.finished, 1);
  });
});
