import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ConnectorError, type FailureType } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import { ExportEngine, type ExportOptions } from '../../src/exports/engine';
import type { DownloadSource, ExportRepository, JobStatus } from '../../src/exports/job';
import { JobTracker } from '../../src/exports/tracker';
import { HttpClient } from '../../src/http/client';
import { urlPolicyFor } from '../../src/http/urls';
import type { Clock } from '../../src/util/clock';
import { type Handler, ScriptedServer, status } from '../support/scripted-server';

// The engine spools into os.tmpdir(): a folder of this file's own shows what it leaves behind.
const SPOOL = mkdtempSync(join(tmpdir(), 'spdm-engine-test-'));
process.env.TMPDIR = SPOOL;

/** Virtual time: sleeps return at once and only move the clock, recording each wait. */
class FakeClock implements Clock {
  elapsed = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return Date.parse('2026-11-20T12:00:00.000Z') + this.elapsed;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.elapsed += ms;
  }
  timer(): () => number {
    const start = this.elapsed;
    return () => this.elapsed - start;
  }
}

type Step = JobStatus | (() => JobStatus | Promise<JobStatus>);

/** An export whose polls answer a script, one step per poll; jobs are numbered by request. */
class FakeRepo implements ExportRepository<number> {
  readonly describe = 'test export';
  starts = 0;
  readonly polled: number[] = [];
  constructor(
    private readonly steps: Step[],
    private readonly onStart: () => void = () => {},
  ) {}
  async start(): Promise<number> {
    this.onStart();
    return ++this.starts;
  }
  async poll(job: number): Promise<JobStatus> {
    this.polled.push(job);
    const step = this.steps.shift();
    if (!step) throw new Error('polled more often than scripted');
    return typeof step === 'function' ? step() : step;
  }
}

const RUNNING: JobStatus = { state: 'running', detail: 'generating' };
const running = (n: number): JobStatus[] => Array<JobStatus>(n).fill(RUNNING);
const BODY = Buffer.from('a,b\n1,2\n3,4\n');

/** Serves `body` whole, with its length. */
const file =
  (body: Buffer = BODY, headers: Record<string, string> = {}): Handler =>
  (_q, r) =>
    r.writeHead(200, { 'content-length': String(body.length), ...headers }).end(body);

/** Promises the whole body, sends part of it, then drops the connection. */
const broken: Handler = (req, res) => {
  res.writeHead(200, { 'content-length': String(BODY.length) });
  res.write(BODY.subarray(0, 5), () => req.socket.destroy());
};

const spooled = () => readdirSync(SPOOL);

/** Matches a ConnectorError of `type` whose message is `message` (or matches it). */
const failedWith =
  (type: FailureType, message: string | RegExp) =>
  (err: unknown): boolean =>
    err instanceof ConnectorError &&
    err.failureType === type &&
    (typeof message === 'string' ? err.message === message : message.test(err.message));

describe('ExportEngine', () => {
  const server = new ScriptedServer();
  let clock: FakeClock;
  let logger: MemoryLogger;
  before(() => server.start());
  after(async () => {
    await server.close();
    rmSync(SPOOL, { recursive: true, force: true });
  });
  afterEach(() => assert.deepEqual(spooled(), [], 'every spooled file was disposed'));

  const completed = (path = '/file'): JobStatus => ({
    state: 'completed',
    download: { url: `${server.url}${path}` },
  });
  const engine = (options: Partial<ExportOptions> = {}) => {
    clock = new FakeClock();
    logger = new MemoryLogger();
    return new ExportEngine(
      new HttpClient(logger, { clock, urlPolicy: urlPolicyFor(server.url) }),
      logger,
      clock,
      {
        pollInitialMs: 1000,
        pollIntervalMs: 3000,
        pollGrowth: 2,
        pollMaxMs: 10_000,
        ...options,
      },
    );
  };
  const warnings = () => logger.lines.filter((l) => l.level === 'WARN').map((l) => l.message);
  /** Runs an export and returns its file's content, disposing it. */
  async function content(e: ExportEngine, repo: FakeRepo): Promise<Buffer> {
    const f = await e.run(repo);
    try {
      return readFileSync(f.path);
    } finally {
      await f.dispose();
    }
  }

  it('completes after N running polls and spools the file as sent', async () => {
    server.reset(file());
    const repo = new FakeRepo([...running(3), completed()]);
    const e = engine();
    const f = await e.run(repo);
    try {
      assert.deepEqual(readFileSync(f.path), BODY);
      assert.equal(f.bytes, BODY.length);
      assert.equal(f.contentEncoding, undefined);
    } finally {
      await f.dispose();
    }
    assert.equal(repo.starts, 1);
    assert.deepEqual(repo.polled, [1, 1, 1, 1]);
    assert.equal(server.seen.length, 1);
    assert.equal(server.seen[0].headers['accept-encoding'], 'gzip');
  });
  it('waits between polls as the schedule says: first, interval, then growing to the cap', async () => {
    server.reset(file());
    const e = engine();
    await content(e, new FakeRepo([...running(6), completed()]));
    assert.deepEqual(clock.sleeps, [1000, 3000, 6000, 10_000, 10_000, 10_000]);
  });
  it('takes a job’s own schedule over the engine’s', async () => {
    server.reset(file());
    const e = engine();
    const f = await e.run(new FakeRepo([...running(4), completed()]), {
      schedule: () => ({ pollInitialMs: 2000, pollIntervalMs: 1500, pollGrowth: 3 }),
    });
    await f.dispose();
    assert.deepEqual(clock.sleeps, [2000, 1500, 4500, 10_000]);
  });
  it('fromConfig: the longest wait and the timeout come from the config', async () => {
    server.reset(file());
    clock = new FakeClock();
    logger = new MemoryLogger();
    const e = ExportEngine.fromConfig(
      { export_poll_max_interval_seconds: 4, export_timeout_minutes: 1 },
      {
        http: new HttpClient(logger, { clock, urlPolicy: urlPolicyFor(server.url) }),
        logger,
        clock,
      },
      { pollInitialMs: 1000, pollIntervalMs: 3000, pollGrowth: 2 },
    );
    await content(e, new FakeRepo([...running(3), completed()]));
    assert.deepEqual(clock.sleeps, [1000, 3000, 4000]);
    await assert.rejects(e.run(new FakeRepo(running(100))), /export_timeout_minutes/);
    assert.ok(clock.elapsed <= 8000 + 60_000, `waited ${clock.elapsed} ms in all`);
  });
  it('gives up with a transient_error naming export_timeout_minutes', async () => {
    server.reset();
    const e = engine({
      timeoutMs: 10 * 60_000,
      pollInitialMs: 60_000,
      pollIntervalMs: 60_000,
      pollMaxMs: 60_000,
    });
    const repo = new FakeRepo(running(100));
    await assert.rejects(
      e.run(repo),
      failedWith(
        'transient_error',
        'test export was not ready after 10 minute(s) (export_timeout_minutes). The next sync will pick it up again.',
      ),
    );
    assert.ok(clock.elapsed <= 10 * 60_000, 'no wait goes past the timeout');
    assert.deepEqual(clock.sleeps, Array(10).fill(60_000), 'every wait that fits');
    assert.equal(repo.polled.length, 11);
    assert.equal(server.seen.length, 0);
  });
  it('requests a FAILED or EXPIRED export again, up to maxRestarts', async () => {
    server.reset(file());
    const e = engine({ maxRestarts: 2 });
    const repo = new FakeRepo([
      { state: 'failed', reason: 'vendor error' },
      RUNNING,
      { state: 'expired', reason: 'too old' },
      completed(),
    ]);
    assert.deepEqual(await content(e, repo), BODY);
    assert.equal(repo.starts, 3);
    assert.deepEqual(repo.polled, [1, 2, 2, 3], 'each job is polled under its own id');
    assert.deepEqual(warnings(), [
      'test export ended FAILED (vendor error); requesting it again.',
      'test export ended EXPIRED (too old); requesting it again.',
    ]);
  });
  it('fails with a transient_error after maxRestarts restarts', async () => {
    const e = engine({ maxRestarts: 2 });
    const repo = new FakeRepo([
      { state: 'failed', reason: 'a' },
      { state: 'expired', reason: 'b' },
      { state: 'failed', reason: 'vendor error' },
    ]);
    await assert.rejects(
      e.run(repo),
      failedWith(
        'transient_error',
        'test export ended FAILED 3 time(s): vendor error. The next sync will try again.',
      ),
    );
    assert.equal(repo.starts, 3);
    const none = engine({ maxRestarts: 0 });
    await assert.rejects(
      none.run(new FakeRepo([{ state: 'expired', reason: 'x' }])),
      /ended EXPIRED 1 time\(s\)/,
    );
  });
  it('downloads again when the body breaks off', async () => {
    server.reset(broken, file());
    const e = engine();
    assert.deepEqual(await content(e, new FakeRepo([completed()])), BODY);
    assert.equal(server.seen.length, 2);
    assert.match(
      warnings()[0],
      /^test export: the download broke off after \d+ bytes .*; downloading again \(attempt 2\)\.$/,
    );
  });
  it('downloads again when the body is shorter than its Content-Length', async () => {
    server.reset(file());
    const e = engine();
    const short: DownloadSource = {
      url: `${server.url}/file`,
      body: {
        stream: Readable.from([BODY.subarray(0, 5)]),
        headers: { 'content-length': String(BODY.length) },
      },
    };
    assert.deepEqual(
      await content(e, new FakeRepo([{ state: 'completed', download: short }])),
      BODY,
    );
    assert.equal(server.seen.length, 1, 'the second attempt fetches the URL');
    assert.deepEqual(warnings(), [
      `test export: the download is incomplete: 5 of ${BODY.length} bytes; downloading again (attempt 2).`,
    ]);
  });
  it('gives up after maxDownloadAttempts broken downloads', async () => {
    server.reset(broken, broken, file());
    const e = engine({ maxDownloadAttempts: 2 });
    await assert.rejects(
      e.run(new FakeRepo([completed()])),
      failedWith(
        'transient_error',
        /^test export: the download failed 2 times; last: the download broke off/,
      ),
    );
    assert.equal(server.seen.length, 2);
  });
  for (const code of [403, 404, 410]) {
    it(`asks the repository for a fresh URL when the download answers ${code}`, async () => {
      server.reset(status(code, {}, 'AccessDenied'), file());
      const e = engine();
      const repo = new FakeRepo([completed('/old?sig=1'), completed('/new?sig=2')]);
      assert.deepEqual(await content(e, repo), BODY);
      assert.deepEqual(
        server.seen.map((s) => s.url),
        ['/old?sig=1', '/new?sig=2'],
      );
      assert.equal(repo.starts, 1, 'the same export, not a new one');
      assert.deepEqual(repo.polled, [1, 1]);
      assert.deepEqual(warnings(), [
        `test export: download URL answered HTTP ${code}; asking for a fresh download URL.`,
      ]);
    });
  }
  it('fails when the export is no longer complete after its URL expired', async () => {
    server.reset(status(403));
    const e = engine();
    await assert.rejects(
      e.run(new FakeRepo([completed(), RUNNING])),
      failedWith('transient_error', /test export is running again after it had completed/),
    );
  });
  it('does not retry a download answered with another client error', async () => {
    server.reset(status(400));
    const e = engine();
    await assert.rejects(
      e.run(new FakeRepo([completed()])),
      failedWith('system_error', 'test export: download answered HTTP 400.'),
    );
    assert.equal(server.seen.length, 1);
  });
  it('stops a file larger than maxFileBytes, without retrying or leaving it on disk', async () => {
    const big = Buffer.alloc(256 * 1024, 120);
    server.reset(file(big), file(big));
    const e = engine({ maxFileBytes: 1000 });
    await assert.rejects(
      e.run(new FakeRepo([completed()])),
      failedWith('system_error', 'test export: the file is larger than 1000 bytes.'),
    );
    assert.equal(server.seen.length, 1);
    server.reset(file(big));
    const f = await engine({ maxFileBytes: big.length }).run(new FakeRepo([completed()]));
    assert.equal(f.bytes, big.length, 'exactly the limit is allowed');
    await f.dispose();
  });
  it('keeps the body as sent, with its Content-Encoding; dispose() removes the temp dir', async () => {
    const gz = gzipSync(BODY);
    server.reset(file(gz, { 'content-encoding': 'gzip' }));
    const f = await engine().run(new FakeRepo([completed()]));
    assert.equal(f.contentEncoding, 'gzip');
    assert.deepEqual(readFileSync(f.path), gz, 'not decompressed');
    assert.ok(dirname(f.path).startsWith(SPOOL));
    assert.deepEqual(spooled().length, 1);
    await f.dispose();
    assert.equal(existsSync(dirname(f.path)), false);
    await f.dispose(); // a second dispose is harmless
  });
  it('runs no more exports at once than its tracker allows; schedule is asked in the slot', async () => {
    const tracker = new JobTracker(1);
    const e = engine();
    server.reset(file(), file());
    let finishA!: (s: JobStatus) => void;
    const repoA = new FakeRepo([() => new Promise<JobStatus>((r) => (finishA = r))]);
    const repoB = new FakeRepo([completed()]);
    let aDone = false;
    const asked: { aDone: boolean; active: number }[] = [];
    const a = e.run(repoA, { tracker }).then((f) => ((aDone = true), f));
    const b = e.run(repoB, {
      tracker,
      schedule: () => (asked.push({ aDone, active: tracker.active }), {}),
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(repoA.starts, 1);
    assert.equal(repoB.starts, 0, 'B waits for the slot');
    assert.deepEqual(asked, [], 'B’s schedule is not asked while it waits');
    finishA(completed());
    const files = await Promise.all([a, b]);
    for (const f of files) await f.dispose();
    assert.equal(repoB.starts, 1);
    assert.deepEqual(asked, [{ aDone: true, active: 1 }]);
    assert.equal(tracker.active, 0, 'both slots released');
  });
  it('with a cap of 2, four exports run two at a time', async () => {
    const tracker = new JobTracker(2);
    const e = engine();
    server.reset(file(), file(), file(), file());
    let inFlight = 0;
    let most = 0;
    const repos = [0, 1, 2, 3].map(
      () =>
        new FakeRepo(
          [
            async () => {
              await new Promise((r) => setTimeout(r, 10));
              inFlight--;
              return completed();
            },
          ],
          () => (most = Math.max(most, ++inFlight)),
        ),
    );
    const files = await Promise.all(repos.map((r) => e.run(r, { tracker })));
    for (const f of files) await f.dispose();
    assert.equal(most, 2);
    assert.equal(tracker.active, 0);
  });
  it('releases its slot when the export fails', async () => {
    const tracker = new JobTracker(1);
    const e = engine({ maxRestarts: 0 });
    await assert.rejects(
      e.run(new FakeRepo([{ state: 'failed', reason: 'x' }]), { tracker }),
      /ended FAILED/,
    );
    assert.equal(tracker.active, 0);
  });
});
