import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CONNECTOR_BIN,
  type Message,
  records,
  runConnector,
  states,
  writeJsonFiles,
} from '../../emulator/harness';
import type { OneSignalAccountFixture } from '../../emulator/onesignal';
import { Emulator } from '../../emulator/server';
import { signalAndWait, until, watch } from '../support/child';
import { errorsOf, FAST_ENV, logsOf } from '../support/e2e';

const STREAM = 'onesignal_message_events';
const NOW_S = Math.floor(Date.now() / 1000);
const APP_ID = '7a1c0de5-0000-4000-8000-00000000a001';
const MSG = (n: number) => `7a1c0de5-0000-4000-8000-00000000b00${n}`;

/** One app, two finished messages; at 2,000 rows a second, each export takes 1.5 s (real time). */
const account: OneSignalAccountFixture = {
  accountId: 'acct-stopped',
  apps: [
    {
      appId: APP_ID,
      apiKey: `os-key-stopped-${'k'.repeat(40)}`,
      messages: [0, 1].map((i) => ({
        id: MSG(i),
        sendAfter: NOW_S - 86_400 + i * 600,
        completedAt: NOW_S - 86_400 + i * 600 + 60,
        remaining: 0,
        events: 3000,
      })),
    },
  ],
};

const catalog = {
  streams: [
    {
      stream: { name: STREAM, json_schema: {}, supported_sync_modes: ['incremental'] },
      sync_mode: 'incremental',
      destination_sync_mode: 'append_dedup',
    },
  ],
};

/** The per-stream state list the platform would hand back, from the last STATE seen. */
const stateFile = (last: Message) => [{ type: 'STREAM', stream: last.state.stream }];

describe('OneSignal: a sync stopped in the middle of an export', () => {
  let emu: Emulator;
  const work = mkdtempSync(join(tmpdir(), 'spdm-stopped-'));
  let n = 0;
  const config = (extra: Record<string, unknown> = {}) => ({
    start_date: new Date((NOW_S - 3 * 86_400) * 1000).toISOString().slice(0, 10),
    onesignal: {
      apps: [{ app_id: APP_ID, api_key: account.apps[0].apiKey }],
      api_url: emu.apiUrl,
    },
    ...extra,
  });
  const files = (cfg: unknown, state?: unknown) =>
    writeJsonFiles(join(work, String(++n)), {
      'config.json': cfg,
      'catalog.json': catalog,
      ...(state ? { 'state.json': state } : {}),
    });
  const args = (f: Record<string, string>) => [
    'read',
    '--config',
    f['config.json'],
    '--catalog',
    f['catalog.json'],
    ...(f['state.json'] ? ['--state', f['state.json']] : []),
  ];
  // Export requests OneSignal accepted (a refused one starts nothing).
  const exportRequests = () =>
    emu.requests.filter((r) => r.route === 'onesignal.export' && r.status === 200);

  before(async () => {
    emu = await Emulator.start({
      onesignal: { accounts: [account], recordsPerSecond: 2000, rateLimitWindowMs: 5 },
    });
  });
  after(async () => {
    await emu.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Starts a read, waits for the STATE that carries the first export in flight, stops it. */
  async function stopMidExport(): Promise<Message> {
    const child = watch([process.execPath, CONNECTOR_BIN, ...args(files(config()))], {
      env: FAST_ENV,
    });
    const inFlight = () =>
      child
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"STATE"') && l.includes('exports_in_flight'));
    await until('a state with the export in flight', () => inFlight().length > 0);
    const { code } = await signalAndWait(child, 'SIGTERM');
    assert.equal(code, 143);
    return JSON.parse(inFlight().at(-1)!) as Message;
  }

  it('checkpoints the export in flight, and the next sync downloads it instead of waiting', async () => {
    emu.reset();
    const last = await stopMidExport();
    // Recorded under the account, which holds OneSignal's export slot.
    const group = last.state.stream.stream_state.exports_in_flight;
    const [entry] = Object.values(group)[0] as { message_id: string; file: string }[];
    assert.equal(entry.message_id, MSG(0));
    // The App ID is a secret: the state names it only as a placeholder.
    assert.ok(entry.file.includes('/{app_id}/'));
    assert.ok(!JSON.stringify(last).includes(APP_ID));
    assert.equal(exportRequests().length, 1);

    const r = await runConnector(args(files(config(), stateFile(last))), { env: FAST_ENV });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.equal(records(r, STREAM).length, 6000, 'both messages, every row');
    // At most one refusal: the probe that shows the old export still holds the slot.
    assert.ok(emu.onesignalConcurrentExportViolations <= 1);
    // Message 0 was picked up, not requested again; message 1 was requested once.
    const requested = exportRequests().map((x) => x.path);
    assert.equal(requested.filter((p) => p.includes(MSG(0))).length, 1);
    assert.equal(requested.filter((p) => p.includes(MSG(1))).length, 1);
    assert.ok(
      logsOf(r, 'INFO').some((l) =>
        /picking up the export of message .* that a stopped sync requested/.test(l),
      ),
    );
    assert.doesNotMatch(JSON.stringify(states(r, STREAM).at(-1)), /exports_in_flight/);
  });

  it('without the note, the next sync waits for the slot with backoff, then gives up in time', async () => {
    emu.reset();
    const last = await stopMidExport();
    const stripped = structuredClone(last.state.stream) as { stream_state: { apps: object } };
    stripped.stream_state = { apps: {} }; // no exports_in_flight
    // One minute of connector time is 0.6 s here: the abandoned export outlasts it.
    const r = await runConnector(
      args(files(config({ export_timeout_minutes: 1 }), [{ type: 'STREAM', stream: stripped }])),
      { env: FAST_ENV },
    );
    assert.equal(r.code, 1);
    const [e] = errorsOf(r);
    assert.equal(e.failure_type, 'transient_error');
    assert.match(e.message, /another export of this account is running, for \d+ minute\(s\)/);
    const waits = logsOf(r, 'WARN').filter((l) => /waiting for it to end/.test(l));
    assert.ok(waits.length >= 2, `backed off and asked again (${waits.length})`);
    assert.ok(emu.onesignalConcurrentExportViolations >= 2);
  });

  /** Another client's export holds the account's slot until the test downloads its file. */
  async function waitsForTheSlot(): Promise<void> {
    const app = account.apps[0];
    const res = await fetch(
      `${emu.apiUrl}/notifications/${MSG(1)}/export_events?app_id=${APP_ID}`,
      {
        method: 'POST',
        headers: { Authorization: `Key ${app.apiKey}` },
      },
    );
    const { csv_file_url: url } = (await res.json()) as { csv_file_url: string };
    const sync = runConnector(args(files(config())), { env: FAST_ENV });
    await until('the connector to be refused', () => emu.onesignalConcurrentExportViolations > 0);
    // Its file is ready 1.5 s after its request; downloading it frees the slot.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const file = await fetch(url);
    assert.equal(file.status, 200);
    await file.arrayBuffer();
    const r = await sync;
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.equal(records(r, STREAM).length, 6000);
    assert.ok(
      logsOf(r, 'WARN').some((l) => /another export of this account is running; waiting/.test(l)),
    );
  }

  it('waits for the slot while another export runs, and goes on once it is downloaded', async () => {
    emu.reset();
    await waitsForTheSlot();
  });

  // The refusal's status and wording are undocumented beyond the text: each plausible shape.
  for (const busyVariant of ['conflict', 'inProgress'] as const) {
    it(`waits for the slot when the refusal is the ${busyVariant} variant`, async () => {
      const documented = emu;
      emu = await Emulator.start({
        onesignal: {
          accounts: [account],
          recordsPerSecond: 2000,
          rateLimitWindowMs: 5,
          busyVariant,
        },
      });
      try {
        await waitsForTheSlot();
      } finally {
        await emu.close();
        emu = documented;
      }
    });
  }
});
