import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { ExportEngine, MIN_REPOLL_MS } from '../../src/exports/engine';
import type { ExportRepository, JobStatus } from '../../src/exports/job';
import { HttpClient } from '../../src/http/client';
import { GenerationRate } from '../../src/providers/onesignal/generation-rate';
import type { Clock } from '../../src/util/clock';

/** A clock that sleeps for no time and remembers every wait it was asked for. */
function recordingClock(): Clock & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => 1_700_000_000_000 + t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    timer: () => {
      const start = t;
      return () => t - start;
    },
  };
}

/** A repository that answers "running" `polls` times, then fails (no download needed). */
function slowRepo(polls: number): ExportRepository<number> & { seen: number } {
  const repo = {
    describe: 'test export',
    seen: 0,
    start: async () => 1,
    poll: async (): Promise<JobStatus> =>
      ++repo.seen > polls ? { state: 'failed', reason: 'done polling' } : { state: 'running' },
  };
  return repo;
}

describe('polite polling', () => {
  it('re-polls one export at least 1 s apart, whatever its schedule asks', async () => {
    const clock = recordingClock();
    const logger = new MemoryLogger();
    const engine = new ExportEngine(new HttpClient(logger, { clock }), logger, clock, {
      maxRestarts: 0,
    });
    const repo = slowRepo(12);
    await assert.rejects(
      engine.run(repo, {
        schedule: () => ({ pollInitialMs: 20, pollIntervalMs: 20, pollGrowth: 1, pollMaxMs: 20 }),
      }),
      /ended FAILED/,
    );
    assert.equal(repo.seen, 13);
    assert.equal(clock.sleeps.length, 12);
    assert.ok(
      clock.sleeps.every((ms) => ms >= MIN_REPOLL_MS),
      clock.sleeps.join(','),
    );
  });

  it('a new job is first checked firstPollMs after its request; a saved job at once', async () => {
    const clock = recordingClock();
    const logger = new MemoryLogger();
    const engine = new ExportEngine(new HttpClient(logger, { clock }), logger, clock, {
      maxRestarts: 0,
    });
    const schedule = () => ({ firstPollMs: 2500, pollInitialMs: 1000, pollIntervalMs: 1000 });
    await assert.rejects(engine.run(slowRepo(1), { schedule }), /ended FAILED/);
    assert.deepEqual(clock.sleeps, [2500, 1000], 'first check at 2.5 s, then the re-poll');
    clock.sleeps.length = 0;
    // The saved job: checked at once, running, re-polled 1 s later, failed; then a new request.
    await assert.rejects(
      engine.run(slowRepo(1), { schedule, lifecycle: { resume: 1 } }),
      /ended FAILED/,
    );
    assert.deepEqual(clock.sleeps, [1000, 2500]);
  });

  it('backs off exponentially up to the configured maximum', async () => {
    const clock = recordingClock();
    const logger = new MemoryLogger();
    const engine = new ExportEngine(new HttpClient(logger, { clock }), logger, clock, {
      maxRestarts: 0,
      pollMaxMs: 10_000,
    });
    await assert.rejects(engine.run(slowRepo(10)), /ended FAILED/);
    const s = clock.sleeps;
    for (let i = 1; i < s.length; i++) assert.ok(s[i] >= s[i - 1], `waits never shrink: ${s}`);
    assert.equal(Math.max(...s), 10_000);
    assert.ok(s[2] > s[1], 'the waits grow');
    assert.ok(logger.lines.some((l) => /failed after 11 check\(s\)/.test(l.message)));
  });

  it("OneSignal's expected generation time: the first check at that time, re-polls at the floor or later", () => {
    const rate = new GenerationRate(60_000);
    // Unknown speed: check at once, then from the floor up.
    assert.equal(rate.schedule(1_000_000).firstPollMs, 0);
    assert.equal(rate.schedule(1_000_000).pollInitialMs, MIN_REPOLL_MS);
    // A first export of 10,000 rows was ready 5 s after its request: 0.5 ms a row.
    rate.learn(10_000, 5000);
    const known = rate.schedule(20_000);
    assert.equal(known.firstPollMs, 10_000);
    assert.equal(known.pollInitialMs, MIN_REPOLL_MS, 'a miss is checked again at the floor');
    // A tiny export is checked at its expected time; its re-polls respect the floor.
    const tiny = rate.schedule(10);
    assert.equal(tiny.firstPollMs, 5);
    assert.equal(tiny.pollInitialMs, MIN_REPOLL_MS);
    assert.equal(tiny.pollIntervalMs, MIN_REPOLL_MS);
    // A long one sleeps in waits of at most the configured maximum, then re-polls 2% apart.
    const long = rate.schedule(1_000_000);
    assert.equal(long.firstPollMs, 60_000);
    assert.equal(long.pollInitialMs, 60_000);
    assert.equal(long.pollIntervalMs, 10_000);
    // The tightest bound seen wins: a slower export does not make later waits longer.
    rate.learn(10_000, 8000);
    assert.equal(rate.schedule(20_000).firstPollMs, 10_000);
    rate.learn(10_000, 4000);
    assert.equal(rate.schedule(20_000).firstPollMs, 8000);
    // Too small to teach anything.
    rate.learn(10, 1);
    assert.equal(rate.schedule(20_000).firstPollMs, 8000);
  });
});
