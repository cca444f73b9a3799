import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConnectorError, systemError, transientError } from '../airbyte/errors';
import type { Logger } from '../airbyte/logger';
import type { HttpClient } from '../http/client';
import { safeUrl } from '../http/urls';
import type { Clock } from '../util/clock';
import { shutdown } from '../util/shutdown';
import {
  type DownloadSource,
  type ExportRepository,
  ExportOutcomeUnknown,
  ExportSlotBusy,
  ExportStopped,
  type JobLifecycle,
  type JobStatus,
} from './job';
import type { JobTracker } from './tracker';

export interface ExportOptions {
  /** Wait from the request to the first status check (a saved job is checked at once); */
  firstPollMs: number;
  /** then the first wait between status checks; */
  pollInitialMs: number;
  /** then the next wait, which grows by `pollGrowth` each time up to `pollMaxMs`. */
  pollIntervalMs: number;
  pollGrowth: number;
  pollMaxMs: number;
  /** Overall wait for one export to be ready. */
  timeoutMs: number;
  /** New requests after FAILED or EXPIRED. */
  maxRestarts: number;
  /** Download attempts (broken bodies, expired URLs) before giving up. */
  maxDownloadAttempts: number;
  /** Bound on the compressed file. */
  maxFileBytes: number;
}

/**
 * The politeness floor: re-polls of one export are at least this far apart (connector time),
 * whatever a schedule asks. A vendor's status URL or storage bucket is not to be hammered.
 */
export const MIN_REPOLL_MS = 1000;

export type PollSchedule = Pick<
  ExportOptions,
  'firstPollMs' | 'pollInitialMs' | 'pollIntervalMs' | 'pollGrowth' | 'pollMaxMs'
>;

const DEFAULT_EXPORT_OPTIONS: ExportOptions = {
  firstPollMs: 0,
  pollInitialMs: 2000,
  pollIntervalMs: 3000,
  pollGrowth: 1.5,
  pollMaxMs: 60_000,
  timeoutMs: 120 * 60_000,
  maxRestarts: 2,
  maxDownloadAttempts: 4,
  maxFileBytes: 8 * 1024 ** 3,
};

/** A downloaded export on local disk. Always `dispose()` it (in a finally). */
export interface SpooledFile {
  path: string;
  bytes: number;
  /** The response's Content-Encoding, if any (the file holds the body as sent). */
  contentEncoding?: string;
  dispose(): Promise<void>;
}

/**
 * Runs one export to completion: request, poll, download. The body is spooled to a temp file
 * and checked to be complete before anyone parses it, so a download that breaks off is simply
 * fetched again: no record is emitted twice or lost.
 */
export class ExportEngine {
  private readonly options: ExportOptions;

  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
    private readonly clock: Clock,
    options: Partial<ExportOptions> = {},
  ) {
    this.options = { ...DEFAULT_EXPORT_OPTIONS, ...options };
  }

  /** The engine a sync's config asks for: its longest poll wait and its export timeout. */
  static fromConfig(
    config: { export_poll_max_interval_seconds: number; export_timeout_minutes: number },
    deps: { http: HttpClient; logger: Logger; clock: Clock },
    options: Partial<ExportOptions> = {},
  ): ExportEngine {
    return new ExportEngine(deps.http, deps.logger, deps.clock, {
      pollMaxMs: config.export_poll_max_interval_seconds * 1000,
      timeoutMs: config.export_timeout_minutes * 60_000,
      ...options,
    });
  }

  /**
   * Runs one export under `tracker`'s cap. `schedule` gives the job's own polling schedule (e.g.
   * sized from its row count); it is asked once the job holds its slot, so it can use what the
   * exports before it taught. `lifecycle` lets the slot's owner record the job while it may hold
   * the slot, resume a saved one, and forbid new requests.
   */
  async run<J>(
    repo: ExportRepository<J>,
    job: {
      tracker?: JobTracker;
      schedule?: () => Partial<PollSchedule>;
      lifecycle?: JobLifecycle<J>;
    } = {},
  ): Promise<SpooledFile> {
    const release = job.tracker ? await job.tracker.acquire() : () => {};
    const life = job.lifecycle ?? {};
    try {
      const schedule = { ...this.options, ...job.schedule?.() };
      let resumed = life.resume;
      for (let restart = 0; ;) {
        const started = resumed ?? (await this.startWhenFree(repo, schedule, life));
        const wasResumed = resumed !== undefined;
        resumed = undefined;
        const status = await this.waitForCompletion(
          repo,
          started,
          schedule,
          life.signal,
          wasResumed ? (life.stillHeld ?? (async () => true)) : undefined,
        );
        if (status.state === 'completed') {
          const file = await this.download(repo, started, status.download);
          life.released?.(started, 'downloaded');
          return file;
        }
        life.released?.(started, 'abandoned');
        // A saved job that is gone is its owner's to replace (or not).
        if (wasResumed) continue;
        if (restart++ >= this.options.maxRestarts) {
          throw transientError(
            `${repo.describe} ended ${status.state.toUpperCase()} ${restart} time(s): ${status.reason}. The next sync will try again.`,
          );
        }
        this.logger.warn(
          `${repo.describe} ended ${status.state.toUpperCase()} (${status.reason}); requesting it again.`,
        );
      }
    } finally {
      release();
    }
  }

  /**
   * Requests the export; while the vendor says another export of the account holds the slot,
   * waits (backing off, never sooner than its Retry-After, within the export timeout) and asks
   * again. A request whose answer was lost is not sent again (it may have started the export).
   */
  private async startWhenFree<J>(
    repo: ExportRepository<J>,
    schedule: PollSchedule,
    life: JobLifecycle<J>,
  ): Promise<J> {
    const elapsedMs = this.clock.timer();
    let wait = Math.max(MIN_REPOLL_MS, schedule.pollIntervalMs);
    for (let tries = 1; ; tries++) {
      life.beforeRequest?.();
      let started: J;
      try {
        started = await repo.start();
      } catch (err) {
        if (err instanceof ExportOutcomeUnknown) {
          life.lost?.(err.reason);
          throw transientError(
            `${repo.describe}: ${err.reason}. The request is not sent again: it may have started the export anyway, which then holds the account's export slot; the next sync continues.`,
          );
        }
        if (!(err instanceof ExportSlotBusy)) throw err;
        life.busy?.(err);
        const pause = Math.max(wait, err.retryAfterMs ?? 0);
        const elapsed = elapsedMs();
        if (elapsed + pause > this.options.timeoutMs) {
          throw transientError(
            `${repo.describe}: ${err.reason}, for ${Math.round(elapsed / 60_000)} minute(s) (export_timeout_minutes). A sync stopped in the middle of an export leaves it running until its file is downloaded or expires; the next sync tries again.`,
          );
        }
        this.logger.warn(
          `${repo.describe}: ${err.reason}; waiting for it to end (try ${tries}, next in ${Math.round(pause / 1000)} s).`,
        );
        await this.nap(pause, life.signal);
        wait = Math.min(schedule.pollMaxMs, Math.max(MIN_REPOLL_MS, Math.round(pause * 1.5)));
        continue;
      }
      life.requested?.(started);
      return started;
    }
  }

  /** A wait that ends the job's run (left as it is) when its owner stops it. */
  private async nap(ms: number, signal: AbortSignal | undefined): Promise<void> {
    await this.clock.sleep(ms, signal);
    if (signal?.aborted) throw new ExportStopped();
  }

  private async waitForCompletion<J>(
    repo: ExportRepository<J>,
    job: J,
    schedule: PollSchedule,
    signal?: AbortSignal,
    /** Given for a saved job: whether it still holds the slot, asked after its first check. */
    stillHeld?: (job: J) => Promise<boolean>,
  ): Promise<Exclude<JobStatus, { state: 'running' }>> {
    const elapsedMs = this.clock.timer();
    let interval = Math.max(MIN_REPOLL_MS, schedule.pollInitialMs);
    // A job just requested is not asked for before it can be ready; a saved one is at once.
    if (!stillHeld && schedule.firstPollMs > 0) await this.nap(schedule.firstPollMs, signal);
    for (let polls = 1; ; polls++) {
      const status = await repo.poll(job);
      const elapsed = elapsedMs();
      if (status.state !== 'running') {
        this.logger.info(
          `${repo.describe}: ${status.state} after ${polls} check(s) in ${(elapsed / 1000).toFixed(1)} s.`,
        );
        return status;
      }
      if (polls === 1 && stillHeld && !(await stillHeld(job))) {
        return { state: 'expired', reason: 'the account accepted a new export, so it is gone' };
      }
      if (elapsed + interval > this.options.timeoutMs) {
        throw transientError(
          `${repo.describe} was not ready after ${Math.round(elapsed / 60_000)} minute(s) (export_timeout_minutes). The next sync will pick it up again.`,
        );
      }
      this.logger.info(
        `${repo.describe}: ${status.detail ?? 'still processing'}; check ${polls}, next in ${Math.round(interval / 1000)} s.`,
      );
      await this.nap(interval, signal);
      interval = polls === 1 ? schedule.pollIntervalMs : Math.round(interval * schedule.pollGrowth);
      interval = Math.max(MIN_REPOLL_MS, Math.min(schedule.pollMaxMs, interval));
    }
  }

  private async download<J>(
    repo: ExportRepository<J>,
    job: J,
    first: DownloadSource,
  ): Promise<SpooledFile> {
    let source = first;
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.options.maxDownloadAttempts; attempt++) {
      const result = await this.spool(repo, source);
      if ('file' in result) return result.file;
      lastProblem = result.problem;
      if (attempt === this.options.maxDownloadAttempts) break;
      if (result.refresh) {
        // A download URL that expired: the status gives a fresh one.
        this.logger.warn(`${repo.describe}: ${result.problem}; asking for a fresh download URL.`);
        const status = await repo.poll(job);
        if (status.state !== 'completed') {
          throw transientError(
            `${repo.describe} is ${status.state} again after it had completed; the next sync will retry.`,
          );
        }
        source = status.download;
      } else {
        this.logger.warn(
          `${repo.describe}: ${result.problem}; downloading again (attempt ${attempt + 1}).`,
        );
        source = { url: source.url };
      }
    }
    throw transientError(
      `${repo.describe}: the download failed ${this.options.maxDownloadAttempts} times; last: ${lastProblem}.`,
    );
  }

  private async spool<J>(
    repo: ExportRepository<J>,
    source: DownloadSource,
  ): Promise<{ file: SpooledFile } | { problem: string; refresh: boolean }> {
    let stream: Readable;
    let headers: Record<string, string>;
    if (source.body) {
      ({ stream, headers } = source.body);
    } else {
      const res = await this.http.request<Readable>({
        method: 'GET',
        url: source.url,
        what: `${repo.describe} download`,
        responseType: 'stream',
        credentials: false,
        headers: { 'Accept-Encoding': 'gzip' },
      });
      if (res.status !== 200) {
        // A download's body is never quoted: whatever answers there is not the vendor's API.
        res.data.destroy();
        if ([401, 403, 404, 410].includes(res.status)) {
          return { problem: `download URL answered HTTP ${res.status}`, refresh: true };
        }
        throw systemError(
          `${repo.describe}: download answered HTTP ${res.status}.`,
          safeUrl(source.url),
        );
      }
      stream = res.data;
      headers = res.headers;
    }
    // A shutdown deletes the folder, even one still being made (the exit's own removal can run
    // before a creation in flight ends: soak seed 1818), and the file while it is written or
    // parsed. Once the stop has begun no folder is made: nothing would remove it.
    if (shutdown.signal.aborted) {
      stream.destroy();
      throw shutdown.signal.reason;
    }
    const made = mkdtemp(join(tmpdir(), 'spdm-'));
    const forget = shutdown.onCleanup(async () => rm(await made, { recursive: true, force: true }));
    let dir: string;
    try {
      dir = await made;
    } catch (err) {
      forget();
      stream.destroy();
      throw err;
    }
    const path = join(dir, 'export.bin');
    const dispose = async () => {
      forget();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      let bytes = 0;
      const limit = this.options.maxFileBytes;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > limit)
          stream.destroy(systemError(`${repo.describe}: the file is larger than ${limit} bytes.`));
      });
      try {
        await pipeline(stream, createWriteStream(path));
      } catch (err) {
        if (err instanceof ConnectorError) throw err;
        await dispose();
        return {
          problem: `the download broke off after ${bytes} bytes (${(err as Error).message})`,
          refresh: false,
        };
      }
      const expected =
        headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
      const size = (await stat(path)).size;
      if (expected !== undefined && Number.isFinite(expected) && size !== expected) {
        await dispose();
        return {
          problem: `the download is incomplete: ${size} of ${expected} bytes`,
          refresh: false,
        };
      }
      this.logger.info(`${repo.describe}: downloaded ${size} bytes.`);
      return { file: { path, bytes: size, contentEncoding: headers['content-encoding'], dispose } };
    } catch (err) {
      await dispose();
      throw err;
    }
  }
}
