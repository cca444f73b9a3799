import { apnsDeliveryRows } from './apns';
import { onesignalEventRows, type OneSignalAppFixture } from './onesignal';
import { pushwooshMessageLogRows, pushwooshTrackingRows } from './pushwoosh';
import type { ApnsTeamFixture } from './server';

/**
 * Every record the emulator serves for a config and window, by primary key: what a soak compares
 * the union of a chain of syncs with. Only keys, because lookback re-reads and the destination's
 * deduplication work by key; the values are checked by the e2e tests.
 */

export type PushwooshLogApi = 'message_log' | 'tracking_log';

/** The primary key of each stream, as the connector declares it (README, Streams). */
export function primaryKeyOf(stream: string, logApi: PushwooshLogApi = 'message_log'): string[] {
  const keys: Record<string, string[]> = {
    apns_delivery_metrics: ['bundle_id', 'date', 'push_type', 'status'],
    apns_broadcast_app: ['bundle_id', 'date'],
    apns_broadcast_channel: ['bundle_id', 'channel_id', 'date'],
    onesignal_message_events: ['app_id', 'message_id', 'subscription_id'],
    onesignal_messages: ['app_id', 'message_id'],
    pushwoosh_tracking: [
      'application_code',
      logApi === 'tracking_log' ? 'tracking_code' : 'message_code',
      'hwid',
      'status',
      'timestamp',
    ],
  };
  const key = keys[stream];
  if (!key) throw new Error(`no primary key known for stream ${stream}`);
  return key;
}

/** One key as a string; null and "" are one value (a key part is never null, README). */
export const keyText = (values: unknown[]): string =>
  JSON.stringify(values.map((v) => (v === null || v === undefined ? '' : v)));

/** The key text of a record of `stream`. */
export const recordKey = (
  stream: string,
  data: Record<string, unknown>,
  logApi?: PushwooshLogApi,
) => keyText(primaryKeyOf(stream, logApi).map((k) => data[k]));

export interface GroundTruthInput {
  /** UTC days of the APNs and Pushwoosh windows (start_date to yesterday). */
  days: string[];
  /** OneSignal: messages sent strictly after this (unix seconds). */
  sinceS: number;
  /** APNs apps as configured: a dataset counts when its token is set (and valid). */
  apns?: ApnsTeamFixture[];
  /** OneSignal apps as configured (with valid keys). */
  onesignal?: OneSignalAppFixture[];
  pushwoosh?: {
    logApi: PushwooshLogApi;
    /** The configured application codes. */
    applications: string[];
    /** Every application of the account (the tracking log's file holds all of them). */
    accountApplications: string[];
    eventsPerDay: number;
  };
}

export interface TruthRecord {
  stream: string;
  key: string;
  /** OneSignal: the row's index in its message's file (a short file holds a prefix). */
  row?: number;
}

/** Every record the emulator would serve for `input`, each once, stream by stream. */
export function* groundTruth(input: GroundTruthInput): Generator<TruthRecord> {
  for (const app of input.apns ?? []) {
    const b = app.bundleId;
    for (const day of input.days) {
      if (app.tokens.deliverymetrics) {
        for (const r of apnsDeliveryRows(app.teamId, b, day))
          yield { stream: 'apns_delivery_metrics', key: keyText([b, day, r.pushType, r.status]) };
      }
      if (app.tokens.broadcastapplicationmetric)
        yield { stream: 'apns_broadcast_app', key: keyText([b, day]) };
      if (app.tokens.broadcastchannelmetrics) {
        for (const c of app.channelIds)
          yield { stream: 'apns_broadcast_channel', key: keyText([b, c, day]) };
      }
    }
  }
  for (const app of input.onesignal ?? []) {
    for (const m of app.messages) {
      if ((m.channel ?? 'push') !== 'push' || m.sendAfter <= input.sinceS) continue;
      yield { stream: 'onesignal_messages', key: keyText([app.appId, m.id]) };
      let row = 0;
      for (const r of onesignalEventRows(app.appId, m.id, m.events)) {
        const key = keyText([app.appId, m.id, r.expected.subscription_id]);
        yield { stream: 'onesignal_message_events', key, row: row++ };
      }
    }
  }
  const pw = input.pushwoosh;
  if (!pw) return;
  for (const day of input.days) {
    if (pw.logApi === 'tracking_log') {
      for (const r of pushwooshTrackingRows(pw.accountApplications, day, pw.eventsPerDay)) {
        const e = r.expected;
        if (!e.app_code || !pw.applications.includes(e.app_code)) continue;
        yield {
          stream: 'pushwoosh_tracking',
          key: keyText([e.app_code, e.tracking_code, e.hwid, e.status, e.timestamp]),
        };
      }
      continue;
    }
    for (const app of pw.applications) {
      for (const { row, expected } of pushwooshMessageLogRows(app, day, pw.eventsPerDay)) {
        const code = row.message_code || `id:${row.message_id}`;
        yield {
          stream: 'pushwoosh_tracking',
          key: keyText([app, code, row.hwid, row.action, expected.timestamp]),
        };
      }
    }
  }
}
