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
 * Where an export is in its life. `requested` and `ready` hold the vendor's slot (OneSignal:
 * one export per account) and are recorded in the state; `downloaded` and `abandoned` (gone,
 * failed, expired) no longer do.
 */
export type ExportJobState = 'requested' | 'ready' | 'downloaded' | 'abandoned';

/**
 * Thrown by `start()` when the vendor refuses a new export because another one of the account
 * holds its only slot (OneSignal: one export per account). The engine waits for the slot, no
 * sooner than the refusal's Retry-After.
 */
export class ExportSlotBusy extends Error {
  constructor(
    readonly reason: string,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
    this.name = 'ExportSlotBusy';
  }
}

/**
 * Thrown by `start()` when the request may have started an export whose answer was lost (a 5xx,
 * or a connection lost after sending): it is not sent again, and the export it may have started
 * holds the slot without a known file.
 */
export class ExportOutcomeUnknown extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ExportOutcomeUnknown';
  }
}

/** Thrown inside the engine when its owner stopped it: no new request, the job stays recorded. */
export class ExportStopped extends Error {
  constructor(readonly reason = 'the export was stopped') {
    super(reason);
    this.name = 'ExportStopped';
  }
}

/**
 * What the owner of a job's slot hears and decides while the engine runs it: it records the job
 * while it may hold the slot, and may forbid new requests.
 */
export interface JobLifecycle<J> {
  /** A job a stopped sync requested: polled first (at once, then >= 1 s apart), never re-requested meanwhile. */
  resume?: J;
  /**
   * Asked once when a resumed job is not ready at its first check: whether it still holds the
   * slot (the owner may probe with the request it needs next; accepted, the slot was free and the
   * resumed job is gone). The next check comes at the usual pace, never at once.
   */
  stillHeld?(job: J): Promise<boolean>;
  /** Called before every new request; throws to forbid it (the stream or the app stopped). */
  beforeRequest?(): void;
  /** The vendor accepted a request: the job holds the slot from now on. */
  requested?(job: J): void;
  /** The request may have started an export whose answer was lost. */
  lost?(reason: string): void;
  /** The vendor refused for a taken slot; throws to stop waiting for it. */
  busy?(refusal: ExportSlotBusy): void;
  /** The job no longer holds the slot. */
  released?(job: J, how: 'downloaded' | 'abandoned'): void;
  /** Aborts the engine's waits; the job stays as it is (recorded). */
  signal?: AbortSignal;
}
