import type { JsonObject } from '../../airbyte/protocol';
import { DAY_CURSOR, parseState, type StateLayout } from '../../sync/state';
import { isObject } from '../../util/json';
import type { ApnsDataset } from './datasets';

/**
 * The state of an APNs stream: the last completed day of each app, keyed by bundle ID
 * (`{"apps": {"com.example.app": {"date": …}}}`), or of each app and channel
 * (`{"app_channels": {"com.example.app:<channel id>": {"date": …}}}`).
 */
export function stateLayout(def: ApnsDataset): StateLayout {
  return {
    field: 'date',
    kind: DAY_CURSOR,
    partitions: def.perChannel
      ? { group: 'app_channels', label: 'channel' }
      : { group: 'apps', label: 'app' },
  };
}

/** A partition's key; `:` is in neither a bundle ID nor a base64 channel ID. */
export const partitionOf = (bundleId: string, channelId?: string): string =>
  channelId === undefined ? bundleId : `${bundleId}:${channelId}`;

/** What 0.1.0 wrote, for one app: `{"date": …}`, or `{"channels": {"<channel id>": {"date": …}}}`. */
const legacyLayout = (def: ApnsDataset): StateLayout => ({
  field: 'date',
  kind: DAY_CURSOR,
  partitions: def.perChannel ? { group: 'channels', label: 'channel' } : undefined,
});

export interface Upgraded {
  state: unknown;
  /** A 0.1.0 state that no app could be given (several apps are configured): it was set aside. */
  orphaned?: boolean;
}

/**
 * Reads a state written by 0.1.0, which synced one app, as the state of `legacyBundleId` (the
 * only configured app); any other state is returned as it is. With several apps, which one the
 * old cursor belonged to is unknown: it is set aside, and every app reads its whole window.
 */
export function upgradeApnsLegacyState(
  def: ApnsDataset,
  raw: unknown,
  legacyBundleId: string | undefined,
): Upgraded {
  const { group } = stateLayout(def).partitions!;
  const legacyKey = def.perChannel ? 'channels' : 'date';
  if (!isObject(raw) || raw[group] !== undefined || raw[legacyKey] === undefined) {
    return { state: raw };
  }
  const old = parseState(legacyLayout(def), raw, def.stream);
  if (legacyBundleId === undefined) return { state: {}, orphaned: true };
  const entries: Record<string, JsonObject> = def.perChannel
    ? Object.fromEntries(
        Object.entries(old.channels as Record<string, JsonObject>).map(([channelId, entry]) => [
          partitionOf(legacyBundleId, channelId),
          entry,
        ]),
      )
    : { [legacyBundleId]: { date: old.date } };
  return { state: { [group]: entries } };
}
