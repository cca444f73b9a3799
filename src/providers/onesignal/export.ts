import type { Readable } from 'node:stream';
import { systemError } from '../../airbyte/errors';
import type { ExportJobState, ExportRepository, JobStatus } from '../../exports/job';
import type { OneSignalAppClient, OneSignalMessage } from './api';
import { FILE_ANSWERS } from './answers';

/** One export of a message's audience activity, as the account that holds its slot tracks it. */
export interface OneSignalJob {
  messageId: string;
  /** The file URL; null when the request's answer was lost (the export may exist all the same). */
  url: string | null;
  /** Wall time of the request. */
  requestedAt: number;
  state: ExportJobState;
  /** A saved job: its file missing `graceMs` after its request means it is gone. */
  graceMs?: number;
}

export interface ExportHooks {
  /** Hears how long the file took to generate, as soon as it is served. */
  onReady?: (generationMs: number) => void;
}

/**
 * OneSignal's export: the file URL answers S3's 404 NoSuchKey until the file is generated, or
 * 403 AccessDenied where the bucket cannot be listed, so both mean "not ready" until the file was
 * served once; after that (or on 410) the file is gone. A saved job (from a stopped sync) whose
 * file is still missing long after its request is gone too. Polling GETs the file itself
 * (without the key); the 200 answer's body is handed to the engine.
 */
export class OneSignalExport implements ExportRepository<OneSignalJob> {
  readonly describe: string;
  /** How long OneSignal took to generate the file, from the request to its first 200. */
  generationMs = 0;
  private sinceRequest: () => number = () => 0;
  /** File URLs that were served once: missing after that means gone, not "not yet". */
  private readonly served = new Set<string>();

  constructor(
    private readonly client: OneSignalAppClient,
    private readonly message: OneSignalMessage,
    private readonly hooks: ExportHooks = {},
  ) {
    this.describe = `${client.label} export of message ${message.id}`;
  }

  async start(): Promise<OneSignalJob> {
    const requestedAt = this.client.clock.now();
    const url = await this.client.requestExport(this.message.id);
    this.sinceRequest = this.client.clock.timer();
    return { messageId: this.message.id, url, requestedAt, state: 'requested' };
  }

  async poll(job: OneSignalJob): Promise<JobStatus> {
    if (job.url === null) return { state: 'expired', reason: 'its file URL is unknown' };
    const res = await this.client.http.request<Readable>({
      method: 'GET',
      url: job.url,
      what: `${this.describe} file`,
      responseType: 'stream',
      credentials: false,
    });
    if (res.status === 200) {
      job.state = 'ready';
      if (!this.generationMs && job.graceMs === undefined) {
        this.generationMs = this.sinceRequest();
        this.hooks.onReady?.(this.generationMs);
      }
      this.served.add(job.url);
      return {
        state: 'completed',
        download: { url: job.url, body: { stream: res.data, headers: res.headers } },
      };
    }
    res.data.resume(); // the S3 error body is of no use
    const meaning = FILE_ANSWERS.get(res.status);
    if (meaning === undefined)
      throw systemError(`${this.describe}: the file URL answered HTTP ${res.status}.`);
    // A saved file missing long after its request is gone, not "not ready".
    const outlived =
      job.graceMs !== undefined && this.client.clock.now() - job.requestedAt > job.graceMs;
    if (meaning === 'missing' && !this.served.has(job.url) && !outlived)
      return { state: 'running', detail: 'the file is not generated yet' };
    return { state: 'expired', reason: `the file URL answered HTTP ${res.status}` };
  }
}
