import { transientError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { ExportEngine, PollSchedule, SpooledFile } from '../../exports/engine';
import {
  ExportOutcomeUnknown,
  ExportSlotBusy,
  ExportStopped,
  type JobLifecycle,
} from '../../exports/job';
import { JobTracker } from '../../exports/tracker';
import type { Clock } from '../../util/clock';
import type { OneSignalAppClient, OneSignalMessage } from './api';
import { OneSignalExport, type OneSignalJob } from './export';
import { FILE_LIFETIME_MS, type InFlight, inFlightRecord, inFlightUrl } from './in-flight';

/** How long a saved export's file may still be missing before it counts as gone. */
const RESUME_GRACE_MS = 10 * 60_000;

/** An app of the account, as the account needs it. */
export interface AccountApp {
  key: string;
  appId: string;
  client: OneSignalAppClient;
}

/** One export the account is asked for: a message of one of its apps. */
export interface ExportAsk {
  app: AccountApp;
  message: OneSignalMessage;
  /** Forbids a new request (its app already failed in this sync). */
  refused(): boolean;
  schedule(): Partial<PollSchedule>;
  onReady(generationMs: number): void;
}

/** A job of the account, with the app that requested it. */
interface Held {
  app: string;
  appId?: string;
  job: OneSignalJob;
}

/**
 * The one owner of an account's export slot (OneSignal runs one export per account; apps
 * labelled with the same account share it). It runs the account's exports one at a time, keeps
 * every job that may hold the slot (requested or ready) in the state until its file is
 * downloaded or it is abandoned, and before anything else downloads the exports a stopped sync
 * left: a wanted one is kept for its message, the others are drained. Once stopped (the stream
 * ended or failed), it requests nothing more and leaves its jobs recorded.
 */
export class OneSignalAccount {
  private readonly tracker = new JobTracker(1);
  private readonly held: Held[] = [];
  /** Saved exports downloaded for a message of this sync, by `<app key>/<message id>`. */
  private readonly ready = new Map<string, SpooledFile>();
  private drained: Promise<void> | undefined;
  /** The export a probe started while a saved one was not ready (the slot proved free). */
  private probed: { key: string; repo: OneSignalExport; job: OneSignalJob } | undefined;
  private readonly stop = new AbortController();
  private stopped = false;
  /** Apps whose export failed in this sync: they request nothing more (their cursor stops). */
  private readonly failedApps = new Set<string>();

  constructor(
    readonly label: string,
    private readonly deps: {
      saved: InFlight[];
      apps: Map<string, AccountApp>;
      /** Whether this sync reads that message (else a saved export of it is only drained). */
      wanted(app: string, messageId: string): boolean;
      /** Writes the account's records into the state (checkpointed at once). */
      save(records: InFlight[]): void;
      engine: ExportEngine;
      logger: Logger;
      clock: Clock;
    },
  ) {
    const now = deps.clock.now();
    for (const r of deps.saved) {
      const app = deps.apps.get(r.app);
      const requestedAt = Date.parse(r.requested_at);
      if (!app) {
        deps.logger.warn(
          `OneSignal: an export in flight of an app no longer configured (message ${r.message_id}) is dropped from the state.`,
        );
      } else if (now - requestedAt > FILE_LIFETIME_MS) {
        deps.logger.info(
          `${app.client.label}: the export of message ${r.message_id} requested at ${r.requested_at} has expired; dropped from the state.`,
        );
      } else {
        const url = inFlightUrl(r, app.appId);
        const job: OneSignalJob = {
          messageId: r.message_id,
          url,
          requestedAt,
          state: 'requested',
          graceMs: RESUME_GRACE_MS,
        };
        this.held.push({ app: r.app, appId: app.appId, job });
      }
    }
    this.save();
  }

  private get description(): string {
    return this.label ? `OneSignal account "${this.label}"` : 'the OneSignal account';
  }

  /** The file of one message's export: a saved one, or a new export under the account's slot. */
  async export(ask: ExportAsk): Promise<SpooledFile> {
    const key = `${ask.app.key}/${ask.message.id}`;
    const early = this.take(key);
    if (early) return early;
    const release = await this.tracker.acquire();
    try {
      if (this.stopped) throw new ExportStopped();
      await (this.drained ??= this.drainSaved(ask));
      const saved = this.take(key);
      if (saved) return saved;
      const lifecycle = this.lifecycle(ask.app, ask.message.id, () => this.refuses(ask));
      const probed = this.probed?.key === key ? this.probed : undefined;
      if (probed) this.probed = undefined;
      const repo =
        probed?.repo ?? new OneSignalExport(ask.app.client, ask.message, { onReady: ask.onReady });
      try {
        return await this.deps.engine.run(repo, {
          schedule: () => ask.schedule(),
          lifecycle: probed ? { ...lifecycle, resume: probed.job } : lifecycle,
        });
      } catch (err) {
        if (!(err instanceof ExportStopped)) this.failedApps.add(ask.app.key);
        throw err;
      }
    } finally {
      release();
    }
  }

  /** Ends the account's work: no request from now on; its jobs stay recorded. */
  close(): void {
    this.stopped = true;
    this.stop.abort();
    for (const file of this.ready.values()) void file.dispose().catch(() => undefined);
    this.ready.clear();
  }

  private refuses(ask: ExportAsk): boolean {
    return this.failedApps.has(ask.app.key) || ask.refused();
  }

  private take(key: string): SpooledFile | undefined {
    const file = this.ready.get(key);
    this.ready.delete(key);
    return file;
  }

  private lifecycle(
    app: AccountApp,
    messageId: string,
    refused: () => boolean,
  ): JobLifecycle<OneSignalJob> {
    return {
      beforeRequest: () => {
        if (this.stopped || refused()) throw new ExportStopped();
      },
      requested: (job) => this.hold(app, job),
      lost: () =>
        this.hold(app, {
          messageId,
          url: null,
          requestedAt: this.deps.clock.now(),
          state: 'requested',
        }),
      busy: () => {
        // Our own export whose answer was lost most likely holds the slot, until it expires.
        const lost = this.held.find((h) => h.job.url === null);
        if (lost) {
          const at = new Date(lost.job.requestedAt).toISOString();
          throw transientError(
            `${app.client.label}: OneSignal refuses a new export for ${this.description}: the export requested at ${at}, whose answer was lost, most likely holds its only slot, and nobody knows its file URL. OneSignal frees the slot when that export expires (3 days after it, at the latest); the next sync tries again.`,
          );
        }
      },
      released: (job, how) => this.letGo(job, how),
      signal: this.stop.signal,
    };
  }

  /**
   * A saved export is not ready: the request this sync needs next tells whether it still holds
   * the slot. Refused, it does (it is polled on, at the usual pace); accepted, the slot was free,
   * the saved one is gone, and the new export serves its message.
   */
  private async probe(ask: ExportAsk): Promise<boolean> {
    if (this.stopped || this.refuses(ask) || this.probed) return true;
    const repo = new OneSignalExport(ask.app.client, ask.message, { onReady: ask.onReady });
    try {
      const job = await repo.start();
      this.hold(ask.app, job);
      this.probed = { key: `${ask.app.key}/${ask.message.id}`, repo, job };
      return false;
    } catch (err) {
      if (err instanceof ExportSlotBusy) return true;
      if (err instanceof ExportOutcomeUnknown) {
        this.hold(ask.app, {
          messageId: ask.message.id,
          url: null,
          requestedAt: this.deps.clock.now(),
          state: 'requested',
        });
        return true;
      }
      throw err;
    }
  }

  private hold(app: AccountApp, job: OneSignalJob): void {
    // A request OneSignal accepted proves the slot was free: a lost export did not hold it.
    if (job.url !== null) this.dropLost();
    this.held.push({ app: app.key, appId: app.appId, job });
    this.save();
  }

  private dropLost(): void {
    const before = this.held.length;
    for (let i = this.held.length - 1; i >= 0; i--)
      if (this.held[i].job.url === null) {
        this.held[i].job.state = 'abandoned';
        this.held.splice(i, 1);
      }
    if (this.held.length !== before) this.save();
  }

  /** The job no longer holds the slot: it leaves the state, and its file URL with it. */
  private letGo(job: OneSignalJob, how: 'downloaded' | 'abandoned'): void {
    job.state = how;
    const i = this.held.findIndex((h) => h.job === job);
    if (i < 0) return;
    this.held.splice(i, 1);
    this.save();
  }

  private save(): void {
    this.deps.save(
      this.held.map((h) =>
        inFlightRecord(h.app, h.job.messageId, h.job.url, h.appId ?? '', h.job.requestedAt),
      ),
    );
  }

  /**
   * Downloads every export a stopped sync left in the slot, before anything else is requested for
   * the account: a message this sync reads keeps its file; the others are dropped (drained). A
   * file missing long after its request is gone (abandoned). A failure here fails every export
   * of the account in this sync, with the record kept for the next one.
   */
  private async drainSaved(ask: ExportAsk): Promise<void> {
    for (const h of [...this.held]) {
      if (h.job.url === null) continue; // lost: only a refusal tells whether it still holds the slot
      if (h.job === this.probed?.job) continue;
      if (this.probed) {
        // The slot proved free: no saved export holds it any more.
        this.letGo(h.job, 'abandoned');
        continue;
      }
      const app = this.deps.apps.get(h.app)!;
      const wanted = this.deps.wanted(h.app, h.job.messageId);
      const requested = new Date(h.job.requestedAt).toISOString();
      this.deps.logger.info(
        wanted
          ? `${app.client.label}: picking up the export of message ${h.job.messageId} that a stopped sync requested at ${requested}.`
          : `${app.client.label}: downloading the export of message ${h.job.messageId} that a stopped sync left in flight (requested at ${requested}), to free the account's export slot.`,
      );
      const stub: OneSignalMessage = { id: h.job.messageId, send_after: 0 };
      const repo = new OneSignalExport(app.client, stub);
      let file: SpooledFile;
      try {
        file = await this.deps.engine.run(repo, {
          lifecycle: {
            resume: h.job,
            stillHeld: () => this.probe(ask),
            // A saved export that is gone is abandoned here; its message asks anew later.
            beforeRequest: () => {
              throw new Gone();
            },
            released: (job, how) => this.letGo(job, how),
            signal: this.stop.signal,
          },
        });
      } catch (err) {
        if (err instanceof Gone) {
          this.deps.logger.info(
            `${app.client.label}: the export of message ${h.job.messageId} that a stopped sync requested is gone; the slot is free again.`,
          );
          continue;
        }
        throw err;
      }
      if (wanted) this.ready.set(`${h.app}/${h.job.messageId}`, file);
      else await file.dispose();
    }
  }
}

/** A saved export found gone: abandoned, no new request in its place. */
class Gone extends Error {}
