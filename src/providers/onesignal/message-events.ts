import type { Config, OneSignalConfig } from '../../config';
import { fileRows } from '../../decode/chain';
import { as, field, RecordMapping } from '../../decode/records';
import type { JsonObject } from '../../airbyte/protocol';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { interleave } from '../../exports/run-ahead';
import { JobTracker } from '../../exports/tracker';
import { apiUrlOptions, HttpClient } from '../../http/client';
import { ExportStream, type UnitOfWork } from '../../sync/export-stream';
import { TIME_CURSOR } from '../../sync/state';
import type { Clock } from '../../util/clock';
import { type OneSignalMessage, OneSignalAppClient } from './api';
import { GenerationRate } from './generation-rate';
import { type InFlight, IN_FLIGHT, inFlightNote, inFlightUrl, isInFlight } from './in-flight';
import { expectedRows, isDone, listApp, sentAt, warnIfShort } from './messages';

export const STREAM = 'onesignal_message_events';
const MAX_DECOMPRESSED_BYTES = 100 * 1024 ** 3;
/** How long a picked-up export's file may still be missing before it counts as gone. */
const RESUME_GRACE_MS = 10 * 60_000;

/** `-` and empty mean "did not happen" in OneSignal's files. */
const text = as.textOrNullExcept('-');
/** The file's columns (OneSignal documents names, not order: they are matched by header). */
export const MAPPING = new RecordMapping([
  field('subscription_id', 'subscription_id', as.text, { required: true }),
  field('external_user_id', 'external_user_id', text),
  field('onesignal_id', 'onesignal_id', text),
  field('device_type', 'device_type', text),
  field('sent_at', 'sent', as.timestamp),
  field('delivered_at', 'delivered', as.timestamp),
  field('clicked_at', 'clicked', as.timestamp),
  field('failed_at', 'failed', as.timestamp),
  field('unsubscribed_at', 'unsubscribed', as.timestamp),
  field('failure_message', 'failure_message', text),
]);

/** One message's export. */
interface MessageUnit extends UnitOfWork {
  partition: string;
  client: OneSignalAppClient;
  appId: string;
  /** Apps with the same account share its one export slot. */
  account: string;
  message: OneSignalMessage;
  /** The cursor after this message, when it ends a prefix of finished messages. */
  advanceTo?: string;
  /** An export of this message that a stopped sync left in flight: picked up first. */
  resume?: InFlight;
  /** Only downloaded (and dropped) to free the slot: its message is not read in this sync. */
  drain?: boolean;
}

/**
 * Per-message audience activity of every configured app: each push message sent in the window is
 * exported (one export at a time for the whole account), and a checkpoint follows each message.
 */
export function messageEventsStream(
  config: Config,
  onesignal: OneSignalConfig,
  clock: Clock,
  opts: { runAhead: number },
) {
  // OneSignal allows one export per account: apps labelled with the same account (all apps,
  // without labels) share one slot; different accounts export at the same time.
  const trackers = new Map<string, JobTracker>();
  const trackerOf = (account: string) => {
    let t = trackers.get(account);
    if (!t) trackers.set(account, (t = new JobTracker(1)));
    return t;
  };
  const accounts = new Set(onesignal.apps.map((a) => a.account ?? '')).size;
  const rate = new GenerationRate(config.export_poll_max_interval_seconds * 1000);

  return new ExportStream<MessageUnit, SpooledFile>({
    name: STREAM,
    primaryKey: [['app_id'], ['message_id'], ['subscription_id']],
    cursorField: 'message_sent_at',
    state: {
      field: 'message_sent_at',
      kind: TIME_CURSOR,
      partitions: { group: 'apps', label: 'app' },
      notes: [IN_FLIGHT],
    },
    // Units alternate between accounts (see plan). Each account has its own export slot, and up
    // to `runAhead` more exports wait for it: the next is requested once a file is downloaded,
    // and OneSignal generates it while this one is parsed.
    ahead: accounts * (1 + opts.runAhead) - 1,
    isolatePartitions: false,

    async plan(ctx) {
      const units: MessageUnit[] = [];
      let estimate = 0;
      for (const [index, app] of onesignal.apps.entries()) {
        const { client, partition, messages, advanceTo } = await listApp(
          config,
          onesignal,
          index,
          ctx,
          clock,
        );
        estimate += messages.reduce((n, m) => n + expectedRows(m), 0);
        ctx.estimate(estimate);
        const account = app.account ?? '';
        const base = {
          partition,
          partitionLabel: client.label,
          client,
          appId: app.app_id,
          account,
        };
        const note = ctx.cursors.note(partition, IN_FLIGHT);
        const inFlight = isInFlight(note) ? note : undefined;
        if (note && !inFlight)
          ctx.logger.warn(`${client.label}: the saved export in flight is not readable; ignored.`);
        if (inFlight && !messages.some((m) => m.id === inFlight.message_id)) {
          const stub: OneSignalMessage = { id: inFlight.message_id, send_after: 0 };
          units.push({ ...base, message: stub, resume: inFlight, drain: true });
        }
        messages.forEach((message, i) =>
          units.push({
            ...base,
            message,
            advanceTo: advanceTo[i],
            resume: inFlight?.message_id === message.id ? inFlight : undefined,
          }),
        );
      }
      return interleave(units, (u) => u.account);
    },

    async fetch(unit, ctx) {
      const { client, message, partition, appId } = unit;
      const rows = expectedRows(message);
      ctx.logger.info(
        unit.drain
          ? `${client.label}: downloading the export of message ${message.id} that a stopped sync left in flight, to free the account's export slot.`
          : `${client.label}: exporting message ${message.id} (about ${rows} rows; OneSignal needs about ${Math.ceil(rate.expectedMs(rows) / 1000)} s to generate it).`,
      );
      const repo = client.exportRepository(message, {
        onReady: (ms) => rate.learn(rows, ms),
        onRequested: (url) =>
          ctx.cursors.setNote(
            partition,
            IN_FLIGHT,
            inFlightNote(message.id, url, appId, clock.now()) as unknown as JsonObject,
          ),
        resume: unit.resume && {
          url: inFlightUrl(unit.resume, appId),
          requestedAt: Date.parse(unit.resume.requested_at),
          graceMs: Math.max(RESUME_GRACE_MS, 3 * rate.expectedMs(rows)),
        },
      });
      const engine = ExportEngine.fromConfig(config, {
        http: new HttpClient(ctx.logger, {
          clock,
          ...apiUrlOptions(onesignal.api_url, 'onesignal.api_url'),
        }),
        logger: ctx.logger,
        clock,
      });
      return engine.run(repo, {
        tracker: trackerOf(unit.account),
        schedule: () => rate.schedule(rows),
      });
    },

    dispose: (file) => file.dispose(),

    async *read({ client, appId, message, advanceTo, partition, drain }, file, ctx) {
      // Its file is downloaded: the export no longer holds the slot.
      const note = ctx.cursors.note(partition, IN_FLIGHT);
      const clear = () => {
        if (note?.message_id === message.id) ctx.cursors.setNote(partition, IN_FLIGHT, undefined);
      };
      if (drain) return clear();
      const source = `${client.label} export of message ${message.id}`;
      const toJson = MAPPING.serializer(
        { app_id: appId, message_id: message.id, message_sent_at: sentAt(message) },
        {},
        ctx.quality.file(source),
      );
      const batches = fileRows(file, {
        columns: MAPPING.columns,
        source,
        maxBytes: MAX_DECOMPRESSED_BYTES,
        onUnknownColumn: ctx.unknownColumn,
      });
      let count = 0;
      for await (const rows of batches) {
        count += rows.length;
        yield { records: rows.map(toJson) };
      }
      warnIfShort(count, message, client.label, ctx.logger);
      if (!isDone(message)) {
        ctx.logger.info(
          `${client.label}: message ${message.id} is still being delivered; the next sync exports it again.`,
        );
      }
      clear();
      if (advanceTo) yield { advance: advanceTo };
    },
  });
}
