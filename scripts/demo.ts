/**
 * The README's main job: a full demo sync against the bundled emulator, no credentials needed.
 * Runs spec, check, discover, a full read and an incremental read from the first read's state,
 * keeps every message in demo-output/, and prints a per-stream table.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectorConfig } from '../emulator/fixtures';
import {
  configuredCatalog,
  runConnector,
  type RunResult,
  stateFileOf,
  writeJsonFiles,
} from '../emulator/harness';
import { Emulator } from '../emulator/server';

const OUT = join(__dirname, '..', '..', 'demo-output');

function table(label: string, r: RunResult): string[] {
  const rows = new Map<
    string,
    { records: number; states: number; started?: number; ended?: number; status: string }
  >();
  const row = (name: string) => {
    let x = rows.get(name);
    if (!x) rows.set(name, (x = { records: 0, states: 0, status: '' }));
    return x;
  };
  for (const m of r.messages) {
    if (m.type === 'RECORD') row(m.record.stream).records++;
    else if (m.type === 'STATE') row(m.state.stream.stream_descriptor.name).states++;
    else if (m.type === 'TRACE' && m.trace.type === 'STREAM_STATUS') {
      const x = row(m.trace.stream_status.stream_descriptor.name);
      const s = m.trace.stream_status.status as string;
      if (s === 'STARTED') x.started = m.trace.emitted_at;
      if (s === 'COMPLETE' || s === 'INCOMPLETE') {
        x.ended = m.trace.emitted_at;
        x.status = s;
      }
    }
  }
  return [...rows].map(([name, x]) =>
    [
      label.padEnd(12),
      name.padEnd(28),
      String(x.records).padStart(8),
      String(x.states).padStart(7),
      (x.started && x.ended ? ((x.ended - x.started) / 1000).toFixed(2) : '-').padStart(8),
      ` ${x.status}`,
    ].join(' '),
  );
}

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  const emulator = await Emulator.start({ apns: { processingPolls: 1 } });
  try {
    const config = connectorConfig(emulator.apiUrl);
    const files = writeJsonFiles(OUT, { 'config.json': config });
    const save = (name: string, r: RunResult) => writeFileSync(join(OUT, name), r.stdout);
    const step = async (name: string, args: string[]) => {
      const r = await runConnector(args);
      save(`${name}.jsonl`, r);
      const errors = r.messages.filter((m) => m.type === 'TRACE' && m.trace.type === 'ERROR');
      console.log(
        `${name.padEnd(18)} exit ${r.code}  ${r.messages.length} messages  ${r.seconds.toFixed(2)} s${errors.length ? `  errors: ${errors.map((e) => e.trace.error.message).join(' | ')}` : ''}`,
      );
      if (r.code !== 0) throw new Error(`${name} failed; see ${join(OUT, `${name}.jsonl`)}`);
      return r;
    };
    console.log(`Emulator: API ${emulator.apiUrl}, files ${emulator.filesUrl}. Output: ${OUT}\n`);
    await step('spec', ['spec']);
    const check = await step('check', ['check', '--config', files['config.json']]);
    const status = check.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus;
    console.log(
      `${''.padEnd(18)} connection status: ${status?.status}${status?.message ? ` (${status.message})` : ''}`,
    );
    const discover = await step('discover', ['discover', '--config', files['config.json']]);
    const catalog = writeJsonFiles(OUT, {
      'catalog.json': configuredCatalog(discover, 'incremental'),
    })['catalog.json'];
    const full = await step('read-full', [
      'read',
      '--config',
      files['config.json'],
      '--catalog',
      catalog,
    ]);
    const state = writeJsonFiles(OUT, { 'state.json': stateFileOf(full) })['state.json'];
    const incremental = await step('read-incremental', [
      'read',
      '--config',
      files['config.json'],
      '--catalog',
      catalog,
      '--state',
      state,
    ]);
    console.log(
      `\n${'read'.padEnd(12)} ${'stream'.padEnd(28)} ${'records'.padStart(8)} ${'states'.padStart(7)} ${'seconds'.padStart(8)}  status`,
    );
    for (const line of [...table('full', full), ...table('incremental', incremental)])
      console.log(line);
    console.log(`\nMessages of each step are in ${OUT}/*.jsonl`);
  } finally {
    await emulator.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
