/**
 * `npm run bench`: the OneSignal stream's speed and memory against the emulator, beside a bare
 * baseline pipeline. Prints numbers; asserts nothing (targets are printed next to them).
 *
 *   A. one message of 1,000,000 rows, ready at once: connector vs baseline rows/s, peak RSS
 *   B. one message of 5,000,000 rows: peak RSS (must not grow with the row count)
 *   C. 20 messages whose exports take time to generate: sync time vs the sum of generation
 *      times, with parse/generation overlap on and off
 *   D. two OneSignal accounts: apps labelled with one account (exports in turn) against two
 *      (each account's exports in parallel)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTOR_BIN } from '../emulator/harness';
import type { OneSignalAccountFixture } from '../emulator/onesignal';
import { Emulator } from '../emulator/server';
import { measure, type Measured } from './measure';

const DIR = mkdtempSync(join(tmpdir(), 'spdm-bench-'));
const NOW_S = Math.floor(Date.now() / 1000);
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function account(
  id: number,
  messages: { events: number; ageS: number; pregenerate?: boolean }[],
): OneSignalAccountFixture {
  return {
    accountId: `acct-${id}`,
    apps: [
      {
        appId: uuid(1000 + id),
        apiKey: `os-key-bench-${id}-${'k'.repeat(40)}`,
        messages: messages.map((m, i) => ({
          id: uuid(id * 100 + i),
          sendAfter: NOW_S - m.ageS,
          completedAt: NOW_S - m.ageS + 60,
          remaining: 0,
          events: m.events,
          pregenerate: m.pregenerate,
        })),
      },
    ],
  };
}

function connectorFiles(
  emu: Emulator,
  acct: OneSignalAccountFixture | OneSignalAccountFixture[],
  name: string,
  labels: string[] = [],
): string[] {
  const apps = (Array.isArray(acct) ? acct : [acct]).map((a, i) => ({
    app_id: a.apps[0].appId,
    api_key: a.apps[0].apiKey,
    ...(labels[i] ? { account: labels[i] } : {}),
  }));
  const config = {
    start_date: new Date((NOW_S - 3 * 86_400) * 1000).toISOString().slice(0, 10),
    onesignal: { apps, api_url: emu.apiUrl },
  };
  const catalog = {
    streams: [
      {
        stream: {
          name: 'onesignal_message_events',
          json_schema: {},
          supported_sync_modes: ['incremental'],
        },
        sync_mode: 'incremental',
        destination_sync_mode: 'append_dedup',
      },
    ],
  };
  const c = join(DIR, `${name}-config.json`);
  const k = join(DIR, `${name}-catalog.json`);
  writeFileSync(c, JSON.stringify(config));
  writeFileSync(k, JSON.stringify(catalog));
  return ['read', '--config', c, '--catalog', k];
}

async function runConnector(
  emu: Emulator,
  acct: OneSignalAccountFixture | OneSignalAccountFixture[],
  name: string,
  env: Record<string, string> = {},
  labels: string[] = [],
): Promise<Measured> {
  const files = connectorFiles(emu, acct, name, labels);
  const m = await measure(process.execPath, [CONNECTOR_BIN, ...files], {
    env,
    countRecords: true,
  });
  if (m.code !== 0) throw new Error(`connector ${name} exited ${m.code}: ${m.errors.join(' | ')}`);
  return m;
}

/** Requests the export as a client would and waits until the file is served; returns its URL. */
async function readyUrl(emu: Emulator, acct: OneSignalAccountFixture): Promise<string> {
  const app = acct.apps[0];
  const msg = app.messages[0];
  const res = await fetch(
    `${emu.apiUrl}/notifications/${msg.id}/export_events?app_id=${app.appId}`,
    { method: 'POST', headers: { Authorization: `Key ${app.apiKey}` } },
  );
  const { csv_file_url: url } = (await res.json()) as { csv_file_url: string };
  for (;;) {
    const head = await fetch(url, { method: 'GET' });
    if (head.status === 200) {
      // Not read here: the baseline downloads it, which also frees the account's export slot.
      await head.body?.cancel();
      return url;
    }
    await head.body?.cancel();
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** GETs of export files so far: each is a poll (404 while generating, then the 200 download). */
const fileGets = (emu: Emulator) =>
  emu.requests.filter((r) => r.route === 'onesignal.download').length;

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function partA(): Promise<number> {
  const acct = account(1, [{ events: 1_000_000, ageS: 86_400, pregenerate: true }]);
  const emu = await Emulator.start({ onesignal: { accounts: [acct], recordsPerSecond: 1e9 } });
  try {
    const url = await readyUrl(emu, acct);
    const baseline = await measure(process.execPath, [join(__dirname, 'baseline.js'), url]);
    const baseRows = Number(baseline.stdout.trim());
    const before = fileGets(emu);
    const conn = await runConnector(emu, acct, 'a');
    const polls = fileGets(emu) - before;
    const baseRate = baseRows / baseline.seconds;
    const connRate = conn.records / conn.seconds;
    console.log('A. 1,000,000 rows, file ready at once (wall time of each process, start to exit)');
    console.log(
      `   baseline   ${fmt(baseRows)} rows  ${fmt(baseline.seconds, 2)} s  ${fmt(baseRate)} rows/s  peak RSS ${fmt(baseline.peakMiB)} MiB`,
    );
    console.log(
      `   connector  ${fmt(conn.records)} rows  ${fmt(conn.seconds, 2)} s  ${fmt(connRate)} rows/s  peak RSS ${fmt(conn.peakMiB)} MiB  ${polls} poll(s) for 1 export`,
    );
    console.log(`   speed-up   ${fmt(connRate / baseRate, 2)}x (target >= 1.3x)\n`);
    return conn.peakMiB;
  } finally {
    await emu.close();
  }
}

async function partB(peak1M: number): Promise<void> {
  const acct = account(2, [{ events: 5_000_000, ageS: 86_400, pregenerate: true }]);
  const emu = await Emulator.start({ onesignal: { accounts: [acct], recordsPerSecond: 1e9 } });
  try {
    // Waits for the emulator to finish generating (about 20 s), then measures both pipelines.
    const url = await readyUrl(emu, acct);
    const baseline = await measure(process.execPath, [join(__dirname, 'baseline.js'), url]);
    const conn = await runConnector(emu, acct, 'b');
    console.log('B. 5,000,000 rows: memory');
    console.log(
      `   baseline   ${fmt(Number(baseline.stdout.trim()))} rows  ${fmt(baseline.seconds, 2)} s  ${fmt(Number(baseline.stdout.trim()) / baseline.seconds)} rows/s  peak RSS ${fmt(baseline.peakMiB)} MiB`,
    );
    console.log(
      `   connector  ${fmt(conn.records)} rows  ${fmt(conn.seconds, 2)} s  ${fmt(conn.records / conn.seconds)} rows/s  peak RSS ${fmt(conn.peakMiB)} MiB (1M rows: ${fmt(peak1M)} MiB; target < 150 MiB, flat)\n`,
    );
  } finally {
    await emu.close();
  }
}

async function partC(): Promise<void> {
  const perMessage = 100_000;
  const rate = 100_000;
  const results: string[] = [];
  const generation = (20 * perMessage) / rate;
  for (const prefetch of ['1', '0']) {
    const acct = account(
      3,
      Array.from({ length: 20 }, (_, i) => ({ events: perMessage, ageS: 86_400 - i * 60 })),
    );
    const emu = await Emulator.start({ onesignal: { accounts: [acct], recordsPerSecond: rate } });
    try {
      const conn = await runConnector(emu, acct, `c${prefetch}`, {
        SOURCE_PDM_EXPORT_RUN_AHEAD: prefetch,
      });
      const polls = fileGets(emu) / 20;
      results.push(
        `   overlap ${prefetch === '1' ? 'on ' : 'off'}  ${fmt(conn.records)} rows  ${fmt(conn.seconds, 2)} s = ${fmt(conn.seconds / generation, 3)}x the generation time  peak RSS ${fmt(conn.peakMiB)} MiB  ${fmt(polls, 1)} polls per export`,
      );
    } finally {
      await emu.close();
    }
  }
  console.log(
    `C. 20 messages of ${fmt(perMessage)} rows generated at ${fmt(rate)} rows/s: ${fmt(generation, 1)} s of generation in all (target <= 1.1x)`,
  );
  for (const r of results) console.log(r);
}

async function partD(): Promise<void> {
  const perMessage = 100_000;
  const rate = 100_000;
  const messages = 8;
  const perAccount = (messages * perMessage) / rate;
  const results: string[] = [];
  for (const labels of [
    ['one', 'one'],
    ['one', 'two'],
  ]) {
    const accts = [4, 5].map((id) =>
      account(
        id,
        Array.from({ length: messages }, (_, i) => ({ events: perMessage, ageS: 86_400 - i * 60 })),
      ),
    );
    const emu = await Emulator.start({ onesignal: { accounts: accts, recordsPerSecond: rate } });
    try {
      const conn = await runConnector(emu, accts, `d${labels[1]}`, {}, labels);
      results.push(
        `   ${labels[1] === 'one' ? 'one label ' : 'two labels'}  ${fmt(conn.records)} rows  ${fmt(conn.seconds, 2)} s = ${fmt(conn.seconds / perAccount, 2)}x one account's generation time  ${fmt(fileGets(emu) / (2 * messages), 1)} polls per export  refused exports ${emu.onesignalConcurrentExportViolations}`,
      );
    } finally {
      await emu.close();
    }
  }
  console.log(
    `\nD. two OneSignal accounts, ${messages} messages of ${fmt(perMessage)} rows each, generated at ${fmt(rate)} rows/s: ${fmt(perAccount, 1)} s of generation per account`,
  );
  for (const r of results) console.log(r);
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${require('node:os').cpus().length} CPUs\n`);
  // BENCH_PARTS=AC runs only those parts.
  const parts = process.env.BENCH_PARTS ?? 'ABCD';
  const peak1M = parts.includes('A') ? await partA() : NaN;
  if (parts.includes('B')) await partB(peak1M);
  if (parts.includes('C')) await partC();
  if (parts.includes('D')) await partD();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(DIR, { recursive: true, force: true }));
