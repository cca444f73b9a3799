/**
 * The bare baseline pipeline of the OneSignal benchmark, run as its own process like the
 * connector: HTTP GET, gunzip, csv-parse with `columns: true`, JSON.stringify of an Airbyte
 * RECORD per row, written to /dev/null with backpressure. Prints the row count.
 */
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';

async function main(url: string): Promise<void> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get(url, resolve).on('error', reject),
  );
  if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}`);
  const out = createWriteStream('/dev/null');
  let rows = 0;
  const toRecords = new Writable({
    objectMode: true,
    write(row: Record<string, string>, _enc, cb) {
      rows++;
      const line =
        JSON.stringify({
          type: 'RECORD',
          record: { stream: 'onesignal_message_events', data: row, emitted_at: Date.now() },
        }) + '\n';
      if (out.write(line)) cb();
      else out.once('drain', () => cb());
    },
  });
  await pipeline(res, createGunzip(), parse({ columns: true }), toRecords);
  await new Promise<void>((r) => out.end(r));
  process.stdout.write(`${rows}\n`);
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
