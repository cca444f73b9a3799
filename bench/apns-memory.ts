/**
 * `npm run bench:apns`: the peak memory of an APNs sync, which holds an export in memory to sort
 * it (Apple does not sort its file). The real connector reads apns_delivery_metrics from the
 * emulator: a usual 30-day export, one of exactly MAX_ROWS rows (the bound), and one row more
 * (refused). Prints numbers; asserts nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_APNS_TEAM } from '../emulator/fixtures';
import { CONNECTOR_BIN } from '../emulator/harness';
import { Emulator } from '../emulator/server';
import { MAX_ROWS } from '../src/providers/apns/day-groups';
import { measure, type Measured } from './measure';

const DIR = mkdtempSync(join(tmpdir(), 'spdm-bench-apns-'));
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** A full read of apns_delivery_metrics (the 30 days Apple keeps) from an emulator whose exports hold `rows` rows. */
async function sync(name: string, rows?: number): Promise<Measured> {
  const emu = await Emulator.start({ apns: { processingPolls: 0, deliveryRows: rows } });
  try {
    const team = DEFAULT_APNS_TEAM;
    const config = join(DIR, `${name}-config.json`);
    const catalog = join(DIR, `${name}-catalog.json`);
    writeFileSync(
      config,
      JSON.stringify({
        apns: {
          team_id: team.teamId,
          bundle_id: team.bundleId,
          delivery_metrics_token: team.tokens.deliverymetrics,
          api_url: emu.apiUrl,
        },
      }),
    );
    writeFileSync(
      catalog,
      JSON.stringify({
        streams: [
          {
            stream: { name: 'apns_delivery_metrics', json_schema: {} },
            sync_mode: 'full_refresh',
            destination_sync_mode: 'overwrite',
          },
        ],
      }),
    );
    return await measure(
      process.execPath,
      [CONNECTOR_BIN, 'read', '--config', config, '--catalog', catalog],
      { env: { SOURCE_PDM_TIME_SCALE: '0.01' }, countRecords: true },
    );
  } finally {
    await emu.close();
  }
}

function report(what: string, m: Measured): void {
  const outcome = m.code === 0 ? 'ok' : `exit ${m.code}`;
  console.log(
    `${what.padEnd(34)} ${fmt(m.records).padStart(9)} records  ${m.seconds.toFixed(2).padStart(6)} s  peak RSS ${fmt(m.peakMiB).padStart(4)} MiB  ${outcome}`,
  );
  const error = /"message":"([^"]*)"/.exec(m.errors[0] ?? '');
  if (error) console.log(`${''.padEnd(34)} error: ${error[1]}`);
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${require('node:os').cpus().length} CPUs\n`);
  report('usual export (30 days)', await sync('usual'));
  report(`${fmt(MAX_ROWS)} rows (MAX_ROWS)`, await sync('cap', MAX_ROWS));
  report(`${fmt(MAX_ROWS + 1)} rows (refused)`, await sync('over', MAX_ROWS + 1));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(DIR, { recursive: true, force: true }));
