import { apnsDeliveryRows } from '../../emulator/apns';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';

/** The apns_delivery_metrics records the emulator's data implies for `days`, in the connector's order. */
export function deliveryExpected(days: string[]): Record<string, unknown>[] {
  const team = DEFAULT_APNS_TEAM;
  return days.flatMap((date) =>
    apnsDeliveryRows(team.teamId, team.bundleId, date)
      .map((r) => ({
        team_id: team.teamId,
        bundle_id: team.bundleId,
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
