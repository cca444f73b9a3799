import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConnectorError, systemError, transientError } from '../airbyte/errors';
import type { Logger } from '../airbyte/logger';
import { type HttpClient, snippet } from '../http/client';
import { safeUrl } from '../http/urls';
import { sleep, timeScale } from '../util/time';
import type { DownloadSource, ExportRepository, JobStatus } from './job';
import type { JobTracker } from './tracker';

export interface ExportOptions {
  /** First wait between status checks; */
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
  tracker?: JobTracker;
}

export type PollSchedule = Pick<
  ExportOptions,
  'pollInitialMs' | 'pollIntervalMs' | 'pollGrowth' | 'pollMaxMs'
>;

export const DEFAULT_EXPORT_OPTIONS: ExportOptions = {
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
    options: Partial<ExportOptions> = {},
  ) {
    this.options = { ...DEFAULT_EXPORT_OPTIONS, ...options };
  }

  /** `overrides` set a job's own polling schedule (e.g. sized from the export's row count). */
  async run<J>(
    repo: ExportRepository<J>,
    overrides: Partial<PollSchedule> = {},
  ): Promise<SpooledFile> {
    const release = this.options.tracker ? await this.options.tracker.acquire() : () => {};
    try {
      for (let restart = 0; ; restart++) {
        const job = await repo.start();
        const status = await this.waitForCompletion(repo, job, { ...this.options, ...overrides });
        if (status.state === 'completed') return await this.download(repo, job, status.download);
        if (restart >= this.options.maxRestarts) {
          throw transientError(
            `${repo.describe} ended ${status.state.toUpperCase()} ${restart + 1} time(s): ${status.reason}. The next sync will try again.`,
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

  private async waitForCompletion<J>(
    repo: ExportRepository<J>,
    job: J,
    schedule: PollSchedule,
  ): Promise<Exclude<JobStatus, { state: 'running' }>> {
    const started = Date.now();
    let interval = schedule.pollInitialMs;
    for (let polls = 1; ; polls++) {
      const status = await repo.poll(job);
      if (status.state !== 'running') return status;
      // Waits are scaled in tests; measure elapsed time in the same unscaled units.
      const elapsed = (Date.now() - started) / timeScale();
      if (elapsed + interval > this.options.timeoutMs) {
        throw transientError(
          `${repo.describe} was not ready after ${Math.round(elapsed / 60_000)} minute(s) (export_timeout_minutes). The next sync will pick it up again.`,
        );
      }
      this.logger.info(
        `${repo.describe}: ${status.detail ?? 'still processing'}; check ${polls}, next in ${Math.round(interval / 1000)} s.`,
      );
      await sleep(interval);
      interval = polls === 1 ? schedule.pollIntervalMs : Math.round(interval * schedule.pollGrowth);
      interval = Math.min(schedule.pollMaxMs, interval);
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
        const body = await readSmall(res.data);
        if ([401, 403, 404, 410].includes(res.status)) {
          return {
            problem: `download URL answered HTTP ${res.status} (${snippet(body, 160)})`,
            refresh: true,
          };
        }
        throw systemError(
          `${repo.describe}: download answered HTTP ${res.status}: ${snippet(body)}`,
          safeUrl(source.url),
        );
      }
      stream = res.data;
      headers = res.headers;
    }
    const dir = await mkdtemp(join(tmpdir(), 'spdm-'));
    const path = join(dir, 'export.bin');
    const dispose = () => rm(dir, { recursive: true, force: true });
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

async function readSmall(stream: Readable, max = 4096): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= max) break;
    }
  } catch {
    // An error body that breaks off is still reported with what arrived.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, max);
}
