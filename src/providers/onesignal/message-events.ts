import { asConnectorError, type ConnectorError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import type { SharedConfig } from '../../config';
import type { OneSignalConfig } from './config';
import { fileRows } from '../../decode/chain';
import { as, field, RecordMapping } from '../../decode/records';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { interleave } from '../../exports/run-ahead';
import { apiUrlOptions, HttpClient } from '../../http/client';
import {
  PartitionedStream,
  type SyncContext,
  type UnitOfWork,
} from '../../sync/partitioned-stream';
import { MICROS_TIME_CURSOR } from '../../sync/state';
import type { Clock } from '../../util/clock';
import { type OneSignalMessage, OneSignalAppClient } from './api';
import { type AccountApp, OneSignalAccount } from './account';
import { GenerationRate } from './generation-rate';
import {
  accountKey,
  EXPORTS_IN_FLIGHT,
  type InFlight,
  savedRecords,
  upgradeInFlight,
} from './in-flight';
import {
  appKey,
  expectedRows,
  finalWithoutDone,
  isDone,
  listApp,
  sentAt,
  warnIfShort,
} from './messages';

export const STREAM = 'onesignal_message_events';
const MAX_DECOMPRESSED_BYTES = 100 * 1024 ** 3;

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

/** One message's export, or an app that failed before any export (its listing). */
interface MessageUnit extends UnitOfWork {
  partition: string;
  app: AccountApp;
  /** Apps with the same account share its one export slot. */
  account: string;
  message?: OneSignalMessage;
  /** The cursor after this message, when it ends a prefix of finished messages. */
  advanceTo?: string;
  /** Why the app cannot sync (e.g. its key was refused while listing). */
  failed?: ConnectorError;
}

/**
 * Per-message audience activity of every configured app: each push message sent in the window is
 * exported (one export at a time per account, owned by its `OneSignalAccount`), and a checkpoint
 * follows each message. One app failing (a bad key, a failed export) fails only that app.
 */
export function messageEventsStream(
  config: SharedConfig,
  onesignal: OneSignalConfig,
  clock: Clock,
  opts: { runAhead: number },
) {
  const labelOf = (i: number) => onesignal.apps[i].account ?? '';
  const accountCount = new Set(onesignal.apps.map((_, i) => labelOf(i))).size;
  const rate = new GenerationRate(config.export_poll_max_interval_seconds * 1000);
  /** The accounts of the sync under way (one read per process). */
  let accounts = new Map<string, OneSignalAccount>();

  return new PartitionedStream<MessageUnit, SpooledFile>({
    name: STREAM,
    primaryKey: [['app_id'], ['message_id'], ['subscription_id']],
    cursorField: 'message_sent_at',
    state: {
      field: 'message_sent_at',
      kind: MICROS_TIME_CURSOR,
      partitions: { group: 'apps', label: 'app' },
      shared: [EXPORTS_IN_FLIGHT],
    },
    // Units alternate between accounts (see plan). Each account has its own export slot, and up
    // to `runAhead` more exports wait for it: the next is requested once a file is downloaded,
    // and OneSignal generates it while this one is parsed.
    ahead: accountCount * (1 + opts.runAhead) - 1,
    isolatePartitions: true,
    upgradeState: upgradeInFlight,

    async plan(ctx) {
      const units: MessageUnit[] = [];
      const wanted = new Set<string>();
      const appsOf = new Map<string, Map<string, AccountApp>>();
      let estimate = 0;
      for (const [index, app] of onesignal.apps.entries()) {
        const key = appKey(app.app_id);
        const account = labelOf(index);
        const client = new OneSignalAppClient(
          { appId: app.app_id, apiKey: app.api_key, index },
          onesignal.api_url,
          ctx.logger,
          clock,
        );
        const accountApp: AccountApp = { key, appId: app.app_id, client };
        if (!appsOf.has(account)) appsOf.set(account, new Map());
        appsOf.get(account)!.set(key, accountApp);
        const base = { partition: key, partitionLabel: client.label, app: accountApp, account };
        let listing;
        try {
          listing = await listApp(config, onesignal, index, ctx, clock);
        } catch (err) {
          // The app fails alone: the others are listed and exported.
          units.push({ ...base, failed: asConnectorError(err) });
          continue;
        }
        estimate += listing.messages.reduce((n, m) => n + expectedRows(m), 0);
        ctx.estimate(estimate);
        listing.messages.forEach((message, i) => {
          wanted.add(`${key}/${message.id}`);
          units.push({ ...base, message, advanceTo: listing.advanceTo[i] });
        });
      }
      accounts = openAccounts(ctx, appsOf, (app, id) => wanted.has(`${app}/${id}`));
      return interleave(units, (u) => u.account);
    },

    async fetch(unit, ctx) {
      const { app, message } = unit;
      if (unit.failed || !message) throw unit.failed;
      const rows = expectedRows(message);
      ctx.logger.info(
        `${app.client.label}: exporting message ${message.id} (about ${rows} rows; OneSignal needs about ${Math.ceil(rate.expectedMs(rows) / 1000)} s to generate it).`,
      );
      return accounts.get(unit.account)!.export({
        app,
        message,
        refused: () => ctx.partitionFailed(unit.partition),
        schedule: () => rate.schedule(rows),
        onReady: (ms) => rate.learn(rows, ms),
      });
    },

    dispose: (file) => file.dispose(),

    async *read({ app, message, advanceTo }, file, ctx) {
      if (!message) return;
      const label = app.client.label;
      const source = `${label} export of message ${message.id}`;
      const toJson = MAPPING.serializer(
        { app_id: app.appId, message_id: message.id, message_sent_at: sentAt(message) },
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
      warnIfShort(count, message, label, ctx.logger);
      if (!isDone(message) && !finalWithoutDone(message, clock.now())) {
        ctx.logger.info(
          `${label}: message ${message.id} is still being delivered; the next sync exports it again.`,
        );
      }
      if (advanceTo) yield { advance: advanceTo };
    },

    // The stream ended (or failed): no account requests anything more; what is in flight stays
    // recorded in the state for the next sync.
    finish() {
      for (const a of accounts.values()) a.close();
    },
  });

  /** One owner per account slot, with the exports the saved state says may hold it. */
  function openAccounts(
    ctx: SyncContext,
    appsOf: Map<string, Map<string, AccountApp>>,
    wanted: (app: string, messageId: string) => boolean,
  ): Map<string, OneSignalAccount> {
    const group = ctx.cursors.sharedValue(EXPORTS_IN_FLIGHT);
    const { ok, bad } = savedRecords(group);
    if (bad)
      ctx.logger.warn(`OneSignal: ${bad} saved export(s) in flight are not readable; ignored.`);
    const engine = ExportEngine.fromConfig(config, {
      http: new HttpClient(ctx.logger, {
        clock,
        ...apiUrlOptions(onesignal.api_url, 'onesignal.api_url'),
      }),
      logger: ctx.logger,
      clock,
    });
    const out = new Map<string, OneSignalAccount>();
    const orphans = ok.filter((r) => ![...appsOf.values()].some((apps) => apps.has(r.app)));
    for (const [label, apps] of appsOf) {
      const key = accountKey(label);
      const saved = ok.filter((r) => apps.has(r.app));
      // Records of apps no longer configured are dropped (with a word) by the first account.
      if (out.size === 0) saved.push(...orphans);
      out.set(
        label,
        new OneSignalAccount(label, {
          saved,
          apps,
          wanted,
          engine,
          logger: ctx.logger,
          clock,
          save: (records: InFlight[]) => {
            const next = { ...ctx.cursors.sharedValue(EXPORTS_IN_FLIGHT) };
            delete next[key];
            // Records of a state from before the account group, now filed under their account.
            delete next.upgraded;
            for (const k of Object.keys(next))
              if (![...appsOf.keys()].some((l) => accountKey(l) === k)) delete next[k];
            if (records.length) next[key] = records as unknown as JsonObject[];
            const value = Object.keys(next).length ? next : undefined;
            const current = ctx.cursors.sharedValue(EXPORTS_IN_FLIGHT);
            if (JSON.stringify(value) !== JSON.stringify(current))
              ctx.cursors.setShared(EXPORTS_IN_FLIGHT, value);
          },
        }),
      );
    }
    return out;
  }
}
