import { systemError } from '../../airbyte/errors';
import type { ApnsConfig, Config } from '../../config';
import { fileRows } from '../../decode/chain';
import { parseDay } from '../../decode';
import { ExportEngine } from '../../exports/engine';
import { JobTracker } from '../../exports/tracker';
import { ExportStream, type UnitOfWork } from '../../sync/export-stream';
import { DAY_CURSOR } from '../../sync/state';
import { type DayWindow, DayWindows } from '../../sync/window';
import type { Clock } from '../../util/clock';
import { addDays, type Day, daysBetween, dayOf } from '../../util/time';
import type { ApnsDataset } from './datasets';
import { apnsClient, ApnsExportRepository, requestRange } from './export';

/** Channel exports in flight at once; Apple documents no limit, this keeps a sync polite. */
const CONCURRENT_EXPORTS = 4;
/** Apple keeps 30 days; endDate must be at least a day in the past. */
export const APNS_RETENTION_DAYS = 30;
/** The export of a 30-day window is small (a few rows per day); this bounds a broken one. */
const MAX_ROWS = 2_000_000;
const MAX_DECOMPRESSED_BYTES = 512 * 1024 ** 2;

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
  const dateAt = def.mapping.index('date');
  const orderAt = def.orderBy.map((f) => def.mapping.index(f));

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
      const today = dayOf(new Date(clock.now()));
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
        const window = windows.of(label, cursor, today, ctx.logger);
        if (window.from > window.to) {
          ctx.logger.info(
            `${label}: nothing to read (${cursor ? `cursor ${cursor}` : `start ${window.from}`} is after ${window.to}).`,
          );
          continue;
        }
        ctx.logger.info(`${label}: reading ${window.from}..${window.to} in one export.`);
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
        return await groupByDay(file, u, repo.describe, ctx);
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

  /** Reads the whole file into its days, each sorted by `orderBy`. */
  async function groupByDay(
    file: { path: string; contentEncoding?: string },
    u: ApnsUnit,
    source: string,
    ctx: { logger: { warn(m: string): void }; unknownColumn(h: string): void },
  ): Promise<Map<Day, string[]>> {
    const { from, to } = u.window;
    const toJson = def.mapping.serializer(lead(u));
    const byDay = new Map<Day, { key: string; json: string }[]>();
    let count = 0;
    let outside = 0;
    const batches = fileRows(file, {
      columns: def.mapping.columns,
      source,
      maxBytes: MAX_DECOMPRESSED_BYTES,
      onUnknownColumn: ctx.unknownColumn,
    });
    for await (const rows of batches) {
      for (const row of rows) {
        if (++count > MAX_ROWS) {
          throw systemError(
            `${source}: more than ${MAX_ROWS} rows, far more than a ${APNS_RETENTION_DAYS}-day export holds.`,
          );
        }
        const day = parseDay(row[dateAt] as string, 'Date (UTC)');
        // The day before `from` is there when a one-day window was asked as two days.
        if (day < from || day > to) {
          if (day > to || day < addDays(from, -1)) outside++;
          continue;
        }
        let list = byDay.get(day);
        if (!list) byDay.set(day, (list = []));
        list.push({ key: orderAt.map((i) => row[i]).join('\u0000'), json: toJson(row) });
      }
    }
    if (outside)
      ctx.logger.warn(
        `${def.stream}: ${outside} row(s) dated outside ${from}..${to} were ignored.`,
      );
    const out = new Map<Day, string[]>();
    for (const [day, list] of byDay) {
      list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      out.set(
        day,
        list.map((r) => r.json),
      );
    }
    return out;
  }
}
