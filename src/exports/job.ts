import type { Readable } from 'node:stream';

/** Where a finished export's file is. `body` is set when polling already opened it. */
export interface DownloadSource {
  url: string;
  body?: { stream: Readable; headers: Record<string, string> };
}

/** The small status model every vendor's export is mapped onto. */
export type JobStatus =
  | { state: 'running'; detail?: string }
  | { state: 'completed'; download: DownloadSource }
  | { state: 'failed'; reason: string }
  | { state: 'expired'; reason: string };

/**
 * What differs per vendor: how to request an export and how to read its status. The engine
 * does the rest (polling schedule, timeouts, restarts, download, spooling).
 */
export interface ExportRepository<J> {
  /** Words for logs and errors: "APNs deliverymetrics export 2026-10-26..2026-11-24". */
  readonly describe: string;
  start(): Promise<J>;
  poll(job: J): Promise<JobStatus>;
}

/**
 * Thrown by `start()` when the vendor refuses a new export because another one of the account
 * holds its only slot (OneSignal: one export per account). The engine waits for the slot.
 */
export class ExportSlotBusy extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ExportSlotBusy';
  }
}
