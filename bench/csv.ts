/**
 * `npm run bench:csv`: the CSV tokenizer alone against csv-parse with `columns: true`, on the
 * emulator's OneSignal export (1,000,000 rows unless BENCH_CSV_ROWS says otherwise). The text
 * is decompressed into memory first, so both parsers are measured without I/O or gunzip. Prints
 * numbers; asserts nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse';
import { ONESIGNAL_CSV_HEADER, writeOneSignalExport } from '../emulator/onesignal';
import { csvRows } from '../src/decode';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
const CHUNK = 256 * 1024; // what the OneSignal stream reads at a time
const RUNS = 3;

async function exportText(): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'spdm-bench-csv-'));
  try {
    const path = join(dir, 'export.csv.gz');
    await writeOneSignalExport(path, 'bench-app', 'bench-message', ROWS);
    return gunzipSync(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function input(text: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += CHUNK) parts.push(text.subarray(i, i + CHUNK));
  return Readable.from(parts);
}

async function ours(text: Buffer): Promise<number> {
  const columns = ONESIGNAL_CSV_HEADER.map((h) => ({ field: h, header: h }));
  let rows = 0;
  for await (const batch of csvRows(input(text), { columns, source: 'bench' })) {
    rows += batch.length;
  }
  return rows;
}

async function reference(text: Buffer): Promise<number> {
  let rows = 0;
  for await (const record of input(text).pipe(parse({ columns: true }))) {
    if (record) rows++;
  }
  return rows;
}

/** Best rows/s of a few runs: the least disturbed by other work on the machine. */
async function rate(name: string, text: Buffer, run: (t: Buffer) => Promise<number>) {
  let best = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    const rows = await run(text);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (rows !== ROWS) throw new Error(`${name}: ${rows} rows, expected ${ROWS}`);
    best = Math.max(best, rows / seconds);
  }
  console.log(`${name.padEnd(32)} ${Math.round(best).toLocaleString('en-US').padStart(12)} rows/s`);
  return best;
}

async function main(): Promise<void> {
  const text = await exportText();
  console.log(
    `${ROWS.toLocaleString('en-US')} OneSignal rows, ${(text.length / 2 ** 20).toFixed(1)} MiB of CSV, ` +
      `${CHUNK / 1024} KiB chunks, best of ${RUNS} runs (Node ${process.version})`,
  );
  const mine = await rate('csvRows (ours)', text, ours);
  const theirs = await rate('csv-parse, columns: true', text, reference);
  console.log(`ratio: ours is ${(mine / theirs).toFixed(2)}x csv-parse`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
