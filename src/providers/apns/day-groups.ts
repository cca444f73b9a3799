import { systemError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import { parseDay } from '../../decode';
import { type DownloadedFile, fileRows } from '../../decode/chain';
import type { SyncContext } from '../../sync/export-stream';
import type { DayWindow } from '../../sync/window';
import { addDays, type Day } from '../../util/time';
import type { ApnsDataset } from './datasets';

const MAX_DECOMPRESSED_BYTES = 512 * 1024 ** 2;

/**
 * Reads an APNs export whole into its days, each day's records sorted by the dataset's `orderBy`:
 * Apple does not sort its file, and a day is checkpointed only once all of its rows are out.
 * Rows dated outside the window are dropped (the day before it is there when a one-day window was
 * asked as two days; others are counted in a warning).
 */
export async function groupByDay(
  file: DownloadedFile,
  def: ApnsDataset,
  o: {
    lead: JsonObject;
    window: DayWindow;
    source: string;
    maxRows: number;
    ctx: Pick<SyncContext, 'logger' | 'unknownColumn'>;
  },
): Promise<Map<Day, string[]>> {
  const { from, to } = o.window;
  const toJson = def.mapping.serializer(o.lead);
  const dateAt = def.mapping.index('date');
  const orderAt = def.orderBy.map((f) => def.mapping.index(f));
  const byDay = new Map<Day, { key: string; json: string }[]>();
  let count = 0;
  let outside = 0;
  const batches = fileRows(file, {
    columns: def.mapping.columns,
    source: o.source,
    maxBytes: MAX_DECOMPRESSED_BYTES,
    onUnknownColumn: o.ctx.unknownColumn,
  });
  for await (const rows of batches) {
    for (const row of rows) {
      if (++count > o.maxRows) {
        throw systemError(
          `${o.source}: more than ${o.maxRows} rows, far more than a 30-day export holds.`,
        );
      }
      const day = parseDay(row[dateAt] as string, 'Date (UTC)');
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
    o.ctx.logger.warn(
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
