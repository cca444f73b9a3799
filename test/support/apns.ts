import {
  apnsBroadcastAppRow,
  apnsBroadcastChannelRow,
  apnsDeliveryRows,
} from '../../emulator/apns';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import type { ApnsTeamFixture } from '../../emulator/server';

/** The apns_delivery_metrics records the emulator's data implies for `days`, in the connector's order. */
export function deliveryExpected(
  days: string[],
  app: ApnsTeamFixture = DEFAULT_APNS_TEAM,
): Record<string, unknown>[] {
  return days.flatMap((date) =>
    apnsDeliveryRows(app.teamId, app.bundleId, date)
      .map((r) => ({
        team_id: app.teamId,
        bundle_id: app.bundleId,
        date,
        push_type: r.pushType,
        status: r.status,
        count: r.count,
      }))
      .sort((a, b) =>
        `${a.push_type}\u0000${a.status}` < `${b.push_type}\u0000${b.status}` ? -1 : 1,
      ),
  );
}

const nullIfHidden = (n: number) => (n === -1 ? null : n);

/** The apns_broadcast_app records of `app` for `days`. */
export function broadcastAppExpected(days: string[], app: ApnsTeamFixture = DEFAULT_APNS_TEAM) {
  return days.map((date) => {
    const r = apnsBroadcastAppRow(app.teamId, app.bundleId, date);
    return {
      team_id: app.teamId,
      bundle_id: app.bundleId,
      date,
      broadcasts_published: nullIfHidden(r.published),
      broadcasts_delivered: nullIfHidden(r.delivered),
      total_subscriptions: nullIfHidden(r.totalSubscriptions),
      unique_subscribers: nullIfHidden(r.uniqueSubscribers),
    };
  });
}

/** The apns_broadcast_channel records of one channel of `app` for `days`. */
export function broadcastChannelExpected(
  channelId: string,
  days: string[],
  app: ApnsTeamFixture = DEFAULT_APNS_TEAM,
) {
  return days.map((date) => {
    const r = apnsBroadcastChannelRow(app.teamId, app.bundleId, channelId, date);
    return {
      team_id: app.teamId,
      bundle_id: app.bundleId,
      channel_id: channelId,
      date,
      broadcasts_published: nullIfHidden(r.published),
      broadcasts_delivered: nullIfHidden(r.delivered),
      total_subscriptions: nullIfHidden(r.totalSubscriptions),
    };
  });
}

/**
 * A platform state file for one APNs stream in this version's layout: the last completed day per
 * bundle ID, or, for apns_broadcast_channel, per `<bundle ID>:<channel ID>`.
 */
export function apnsState(stream: string, dates: Record<string, string>): unknown[] {
  const group = stream === 'apns_broadcast_channel' ? 'app_channels' : 'apps';
  const entries = Object.fromEntries(Object.entries(dates).map(([k, date]) => [k, { date }]));
  return [
    {
      type: 'STREAM',
      stream: { stream_descriptor: { name: stream }, stream_state: { [group]: entries } },
    },
  ];
}
