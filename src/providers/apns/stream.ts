import type { SharedConfig } from '../../config';
import type { ApnsApp, ApnsConfig } from './config';
import { ExportEngine, type SpooledFile } from '../../exports/engine';
import { JobTracker } from '../../exports/tracker';
import { PartitionedStream, type UnitOfWork } from '../../sync/partitioned-stream';
import { type DayWindow, DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, daysBetween, todayUtc } from '../../util/time';
import { groupByDay } from './day-groups';
import type { ApnsDataset } from './datasets';
import { appExport, requestRange } from './export';
import { partitionOf, stateLayout, upgradeApnsLegacyState } from './state';

/** Exports in flight at once; Apple documents no limit, this keeps a sync polite. */
const CONCURRENT_EXPORTS = 4;
/** Apple keeps 30 days; endDate must be at least a day in the past. */
export const APNS_RETENTION_DAYS = 30;

/** One export: the whole window of one app, or of one of its broadcast channels. */
interface ApnsUnit extends UnitOfWork {
  partition: string;
  partitionLabel: string;
  app: ApnsApp;
  window: DayWindow;
  channel?: { id: string; index: number };
}

/** The apps this dataset's stream syncs: those with its token (and, per channel, channels). */
export function appsOf(def: ApnsDataset, apns: ApnsConfig): ApnsApp[] {
  return apns.apps.filter((a) => a[def.tokenField] && (!def.perChannel || a.channel_ids?.length));
}

/** `app com.example.app (apns.apps[1])`, `channel c1 of app com.example.app (apns)`. */
function labelOf(app: ApnsApp, channelId?: string): string {
  const name = `app ${app.bundle_id} (${app.path})`;
  return channelId === undefined ? name : `channel ${channelId} of ${name}`;
}

/**
 * A stream over one APNs dataset: per app (per channel), one export for its whole window. Apple
 * does not sort its file, so each is read whole and its rows grouped by day; then days are emitted
 * in order, each followed by its checkpoint. Apps are isolated: one failing app does not stop the
 * others, and the stream fails at the end naming each app that failed.
 */
export function apnsStream(def: ApnsDataset, config: SharedConfig, apns: ApnsConfig, clock: Clock) {
  const windows = new DayWindows(
    { startDate: config.start_date, lookbackDays: config.lookback_days },
    {
      oldest: (today) => addDays(today, -APNS_RETENTION_DAYS),
      retention: `${APNS_RETENTION_DAYS} days Apple keeps`,
    },
  );
  const tracker = new JobTracker(CONCURRENT_EXPORTS);
  const apps = appsOf(def, apns);
  // The state of 0.1.0 belongs to its one app: the only app configured now.
  const legacyBundleId = apns.apps.length === 1 ? apns.apps[0].bundle_id : undefined;
  let orphanedState = false;
  let estimated = 0;

  return new PartitionedStream<ApnsUnit, { file: SpooledFile; source: string }>({
    name: def.stream,
    primaryKey: def.primaryKey,
    cursorField: 'date',
    state: stateLayout(def),
    // Every export is requested at once (Apple prepares them in parallel, and each can take
    // minutes), up to the tracker's cap; only a spooled file waits, so memory holds one export.
    ahead: Infinity,
    isolatePartitions: true,

    upgradeState(raw) {
      const upgraded = upgradeApnsLegacyState(def, raw, legacyBundleId);
      orphanedState = !!upgraded.orphaned;
      return upgraded.state;
    },

    async plan(ctx) {
      estimated = 0;
      if (orphanedState) {
        ctx.logger.warn(
          `${def.stream}: the saved state was written by version 0.1.0 for one app, and apns.apps lists ${apns.apps.length}; as it cannot tell which app it belongs to, every app reads its whole window.`,
        );
      }
      const today = todayUtc(new Date(clock.now()));
      const units: ApnsUnit[] = [];
      for (const app of apps) {
        const channels = def.perChannel
          ? (app.channel_ids ?? []).map((id, index) => ({ id, index }))
          : [undefined];
        for (const channel of channels) {
          const label = labelOf(app, channel?.id);
          const partition = partitionOf(app.bundle_id, channel?.id);
          const cursor = ctx.cursors.cursor(partition);
          const window = windows.plan(
            `${def.stream} ${label}`,
            cursor,
            today,
            ctx,
            'in one export',
          );
          if (window) units.push({ partition, partitionLabel: label, app, window, channel });
        }
      }
      return units;
    },

    async fetch(u, ctx) {
      const repo = appExport(apns, u.app, def, {
        range: requestRange(u.window.from, u.window.to),
        channel: u.channel,
        logger: ctx.logger,
        clock,
      });
      const engine = ExportEngine.fromConfig(config, {
        http: repo.http,
        logger: ctx.logger,
        clock,
      });
      return { file: await engine.run(repo, { tracker }), source: repo.describe };
    },

    dispose: ({ file }) => file.dispose(),

    async *read(u, { file, source }, ctx) {
      const byDay = await groupByDay(file, def, {
        lead: {
          team_id: apns.team_id,
          bundle_id: u.app.bundle_id,
          ...(u.channel ? { channel_id: u.channel.id } : {}),
        },
        window: u.window,
        source,
        ctx,
      });
      for (const rows of byDay.values()) estimated += rows.length;
      ctx.estimate(estimated);
      for (const day of daysBetween(u.window.from, u.window.to)) {
        const records = byDay.get(day);
        if (records) yield { records };
        yield { advance: day };
      }
    },
  });
}
