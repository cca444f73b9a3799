import { asConnectorError, type ConnectorError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import type { SharedConfig } from '../../config';
import type { OneSignalConfig } from './config';
import { PartitionedStream, type UnitOfWork } from '../../sync/partitioned-stream';
import { MICROS_TIME_CURSOR } from '../../sync/state';
import type { Clock } from '../../util/clock';
import { isObject } from '../../util/json';
import type { OneSignalMessage } from './api';
import { type AppListing, appKey, listApp, sentAt } from './messages';

export const MESSAGES_STREAM = 'onesignal_messages';

/** OneSignal's platform flags, as record fields (`isIos` -> `ios`). */
const PLATFORMS: Record<string, string> = {
  isIos: 'ios',
  isAndroid: 'android',
  isHuawei: 'huawei',
  isAdm: 'amazon',
  isWP_WNS: 'windows',
  isChrome: 'chrome_app',
  isChromeWeb: 'chrome_web',
  isSafari: 'safari',
  isFirefox: 'firefox',
  isEdge: 'edge',
};

const orNull = (v: unknown) => (v === undefined ? null : v);
const objectOrNull = (v: unknown) => (isObject(v) ? v : null);
const listOrNull = (v: unknown) => (Array.isArray(v) ? v : null);
const countOrNull = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const timeOrNull = (v: unknown) =>
  typeof v === 'number' && v > 0 ? new Date(v * 1000).toISOString() : null;

/** A message as OneSignal lists it, as a record of `onesignal_messages`. */
export function messageRecord(appId: string, m: OneSignalMessage): JsonObject {
  const platforms: JsonObject = {};
  for (const [flag, name] of Object.entries(PLATFORMS))
    if (typeof m[flag] === 'boolean') platforms[name] = m[flag];
  return {
    app_id: appId,
    message_id: m.id,
    message_sent_at: sentAt(m),
    queued_at: timeOrNull(m.queued_at),
    completed_at: timeOrNull(m.completed_at),
    name: orNull(m.name),
    headings: objectOrNull(m.headings),
    contents: objectOrNull(m.contents),
    included_segments: listOrNull(m.included_segments),
    excluded_segments: listOrNull(m.excluded_segments),
    filters: listOrNull(m.filters),
    template_id: orNull(m.template_id),
    platforms,
    successful: countOrNull(m.successful),
    failed: countOrNull(m.failed),
    errored: countOrNull(m.errored),
    converted: countOrNull(m.converted),
    received: countOrNull(m.received),
    remaining: countOrNull(m.remaining),
    platform_delivery_stats: objectOrNull(m.platform_delivery_stats),
    canceled: typeof m.canceled === 'boolean' ? m.canceled : null,
  };
}

interface AppUnit extends UnitOfWork {
  partition: string;
  appId: string;
  listing?: AppListing;
  /** Why the app cannot sync (its listing failed): it fails alone. */
  failed?: ConnectorError;
}

/**
 * One record per push message of every configured app, from the listing the events stream also
 * makes. Incremental on the send time with the same per-app cursor and lookback: the cursor stops
 * before a message still being delivered, so its counts are refreshed until they are final.
 */
export function messagesStream(config: SharedConfig, onesignal: OneSignalConfig, clock: Clock) {
  return new PartitionedStream<AppUnit, undefined>({
    name: MESSAGES_STREAM,
    primaryKey: [['app_id'], ['message_id']],
    cursorField: 'message_sent_at',
    state: {
      field: 'message_sent_at',
      kind: MICROS_TIME_CURSOR,
      partitions: { group: 'apps', label: 'app' },
    },
    ahead: 0,
    isolatePartitions: true,

    async plan(ctx) {
      const units: AppUnit[] = [];
      let count = 0;
      for (const [index, app] of onesignal.apps.entries()) {
        let listing: AppListing;
        try {
          listing = await listApp(config, onesignal, index, ctx, clock);
        } catch (err) {
          units.push({
            partition: appKey(app.app_id),
            partitionLabel: `OneSignal app onesignal.apps[${index}]`,
            appId: app.app_id,
            failed: asConnectorError(err),
          });
          continue;
        }
        count += listing.messages.length;
        ctx.estimate(count);
        units.push({
          partition: listing.partition,
          partitionLabel: listing.client.label,
          appId: app.app_id,
          listing,
        });
      }
      return units;
    },

    fetch: async (unit) => {
      if (unit.failed) throw unit.failed;
    },

    async *read({ appId, listing }) {
      if (!listing) return;
      for (const [i, m] of listing.messages.entries()) {
        yield { records: [JSON.stringify(messageRecord(appId, m))] };
        const to = listing.advanceTo[i];
        if (to) yield { advance: to };
      }
    },
  });
}
