import { systemError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import { DecodeError, parseDay } from '../../decode';
import { type DownloadedFile, fileRows } from '../../decode/chain';
import type { SyncContext } from '../../sync/partitioned-stream';
import type { DayWindow } from '../../sync/window';
import { addDays, type Day } from '../../util/time';
import type { ApnsDataset } from './datasets';

/**
 * A real 30-day export is small: delivery metrics hold about 10 push types x 10 statuses a day,
 * a broadcast export one row a day. A file is held in memory to be sorted, so these bounds stop
 * a file that is not such an export before it fills memory (about 30 MiB at MAX_ROWS).
 */
export const MAX_ROWS = 100_000;
/** Reached only by rows far longer than Apple's (a few dozen bytes): text is bounded, too. */
export const MAX_RECORD_BYTES = 32 * 1024 ** 2;
const MAX_DECOMPRESSED_BYTES = 512 * 1024 ** 2;

/**
 * A copy of a string in one piece: a record the serializer concatenated is a tree of pieces,
 * which takes twice the memory while it is held.
 */
const compact = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/**
 * Reads an APNs export whole into its days, each day's records sorted by the dataset's `orderBy`:
 * Apple does not sort its file, and a day is checkpointed only once all of its rows are out.
 * Rows dated outside the window are dropped (the day before it is there when a one-day window was
 * asked as two days; others are counted in a warning). A row whose date cannot be read is kept,
 * its date null (see RecordMapping.serializer), with the window's last day.
 *
 * Two rows of one day with the same key would be one record to a destination that deduplicates,
 * which would keep one count and lose the other: that fails the export, naming the columns this
 * connector does not know (the likely difference, e.g. a new `Environment`).
 */
export async function groupByDay(
  file: DownloadedFile,
  def: ApnsDataset,
  o: {
    lead: JsonObject;
    window: DayWindow;
    source: string;
    ctx: Pick<SyncContext, 'logger' | 'unknownColumn' | 'quality'>;
  },
): Promise<Map<Day, string[]>> {
  const { from, to } = o.window;
  const quality = o.ctx.quality.file(o.source);
  const toJson = def.mapping.serializer(o.lead, {}, quality);
  const dateAt = def.mapping.index('date');
  const orderAt = def.orderBy.map((f) => def.mapping.index(f));
  // Rows by day; rows whose date cannot be read under UNDATED, their key checked all the same.
  const byDay = new Map<Day | typeof UNDATED, { key: string; json: string; row: number }[]>();
  const unknown: string[] = [];
  const tooMuch = (what: string) =>
    systemError(
      `${o.source}: more than ${what}, far more than a 30-day export holds (a few thousand rows). Please report it.`,
    );
  let count = 0;
  let bytes = 0;
  let outside = 0;
  const batches = fileRows(file, {
    columns: def.mapping.columns,
    source: o.source,
    maxBytes: MAX_DECOMPRESSED_BYTES,
    onUnknownColumn: (header) => {
      unknown.push(header);
      o.ctx.unknownColumn(header);
    },
  });
  for await (const rows of batches) {
    for (const row of rows) {
      if (++count > MAX_ROWS) throw tooMuch(`${MAX_ROWS} rows`);
      const day = dayOf(row[dateAt]);
      if (day !== undefined && (day < from || day > to)) {
        if (day > to || day < addDays(from, -1)) outside++;
        quality.skip();
        continue;
      }
      const json = compact(toJson(row));
      bytes += json.length;
      if (bytes > MAX_RECORD_BYTES) throw tooMuch(`${MAX_RECORD_BYTES / 1024 ** 2} MiB of records`);
      let list = byDay.get(day ?? UNDATED);
      if (!list) byDay.set(day ?? UNDATED, (list = []));
      list.push({ key: orderAt.map((i) => row[i]).join('\u0000'), json, row: quality.rows });
    }
  }
  if (outside)
    o.ctx.logger.warn(
      `${def.stream}: ${outside} row(s) dated outside ${from}..${to} were ignored.`,
    );
  const out = new Map<Day, string[]>();
  for (const [day, list] of byDay) {
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let i = 1; i < list.length; i++) {
      if (list[i].key === list[i - 1].key)
        throw repeatedKey(def, o.source, list[i - 1], list[i], unknown, day === UNDATED);
    }
    if (day !== UNDATED)
      out.set(
        day,
        list.map((r) => r.json),
      );
  }
  // Undated rows (date null) are emitted before the checkpoint that completes the export.
  const undated = byDay.get(UNDATED)?.map((r) => r.json) ?? [];
  if (undated.length) out.set(to, [...(out.get(to) ?? []), ...undated]);
  return out;
}

/** The group of rows whose date cannot be read (a Day is never empty). */
const UNDATED = '';

/** The row's day, or undefined when its date cannot be read (its record then has it null). */
function dayOf(raw: string | undefined): Day | undefined {
  try {
    return parseDay(raw ?? '', 'Date (UTC)');
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

/** Names rows and columns, never values (the brief rule for every decode error). */
function repeatedKey(
  def: ApnsDataset,
  source: string,
  a: { row: number },
  b: { row: number },
  unknown: string[],
  undated: boolean,
): Error {
  const key = def.primaryKey.map((k) => k.join('.')).join(', ');
  const rows = undated
    ? `${source}: data rows ${a.row} and ${b.row} have no readable date (synced as null) and the same other key fields (${key}). `
    : `${source}: data rows ${a.row} and ${b.row} are of the same day and have the same primary key (${key}). `;
  const cause = unknown.length
    ? `The file has column${unknown.length > 1 ? 's' : ''} this connector does not know (${unknown.map((h) => JSON.stringify(h)).join(', ')}), which likely tell${unknown.length > 1 ? '' : 's'} such rows apart.`
    : 'The file is not shaped as this connector expects.';
  return systemError(
    rows +
      `A destination that deduplicates would keep one and lose the other's counts, so the export is not synced. ${cause} Please report it.`,
  );
}
