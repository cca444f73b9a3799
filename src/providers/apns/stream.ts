import type { ApnsConfig, Config } from '../../config';
import { ExportEngine } from '../../exports/engine';
import { JobTracker } from '../../exports/tracker';
import { ExportStream, type UnitOfWork } from '../../sync/export-stream';
import { DAY_CURSOR } from '../../sync/state';
import { type DayWindow, DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, type Day, daysBetween, todayUtc } from '../../util/time';
import { groupByDay } from './day-groups';
import type { ApnsDataset } from './datasets';
import { apnsClient, ApnsExportRepository, requestRange } from './export';

/** Channel exports in flight at once; Apple documents no limit, this keeps a sync polite. */
const CONCURRENT_EXPORTS = 4;
/** Apple keeps 30 days; endDate must be at least a day in the past. */
export const APNS_RETENTION_DAYS = 30;
/** The export of a 30-day window is small (a few rows per day); this bounds a broken one. */
const MAX_ROWS = 2_000_000;

/** One export: the whole window of the app, or of one broadcast channel. */
interface ApnsUnit extends UnitOfWork {
  window: DayWindow;
  channelId?: string;
  /** The config field naming the channel, for errors: `apns.channel_ids[1]`. */
  channelField?: string;
}

/**
 * A stream over one APNs dataset: one export for the whole window (per channel). Apple does not
 * sort its file, so it is read whole and its rows grouped by day; then days are emitted in order,
 * each followed by its checkpoint.
 */
export function apnsStream(def: ApnsDataset, config: Config, apns: ApnsConfig, clock: Clock) {
  const windows = new DayWindows(
    { startDate: config.start_date, lookbackDays: config.lookback_days },
    {
      oldest: (today) => addDays(today, -APNS_RETENTION_DAYS),
      retention: `${APNS_RETENTION_DAYS} days Apple keeps`,
    },
  );
  const tracker = new JobTracker(CONCURRENT_EXPORTS);
  const lead = (u: ApnsUnit) => ({
    team_id: apns.team_id,
    bundle_id: apns.bundle_id,
    ...(u.channelId !== undefined ? { channel_id: u.channelId } : {}),
  });

  return new ExportStream<ApnsUnit, Map<Day, string[]>>({
    name: def.stream,
    primaryKey: def.primaryKey,
    cursorField: 'date',
    state: {
      field: 'date',
      kind: DAY_CURSOR,
      partitions: def.perChannel ? { group: 'channels', label: 'channel' } : undefined,
    },
    // Every channel's export is requested at once (Apple prepares them in parallel, and each can
    // take minutes), up to the tracker's cap; records are emitted in config order.
    ahead: Infinity,
    isolatePartitions: def.perChannel,

    async plan(ctx) {
      const today = todayUtc(new Date(clock.now()));
      const partitions: Omit<ApnsUnit, 'window'>[] = def.perChannel
        ? (apns.channel_ids ?? []).map((channelId, i) => ({
            partition: channelId,
            partitionLabel: `channel ${channelId}`,
            channelId,
            channelField: `apns.channel_ids[${i}]`,
          }))
        : [{}];
      const units: ApnsUnit[] = [];
      for (const p of partitions) {
        const label = p.channelId ? `${def.stream} channel ${p.channelId}` : def.stream;
        const cursor = ctx.cursors.cursor(p.partition);
        const window = windows.plan(label, cursor, today, ctx.logger, 'in one export');
        if (!window) continue;
        units.push({ ...p, window });
      }
      return units;
    },

    async fetch(u, ctx) {
      const http = apnsClient(apns, apns[def.tokenField] as string, ctx.logger, clock);
      const repo = new ApnsExportRepository(http, {
        apiUrl: apns.api_url,
        teamId: apns.team_id,
        bundleId: apns.bundle_id,
        dataset: def.dataset,
        tokenField: def.tokenField,
        channelId: u.channelId,
        channelField: u.channelField,
        ...requestRange(u.window.from, u.window.to),
      });
      const engine = ExportEngine.fromConfig(config, { http, logger: ctx.logger, clock });
      const file = await engine.run(repo, { tracker });
      try {
        return await groupByDay(file, def, {
          lead: lead(u),
          window: u.window,
          source: repo.describe,
          maxRows: MAX_ROWS,
          ctx,
        });
      } finally {
        await file.dispose();
      }
    },

    async *read(u, byDay, ctx) {
      let total = 0;
      for (const rows of byDay.values()) total += rows.length;
      ctx.estimate(total);
      for (const day of daysBetween(u.window.from, u.window.to)) {
        const records = byDay.get(day);
        if (records) yield { records };
        yield { advance: day };
      }
    },
  });
}
