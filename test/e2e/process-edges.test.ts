import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectorConfig } from '../../emulator/fixtures';
import { CONNECTOR_BIN, writeJsonFiles } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import { signalAndWait, until, watch, type WatchedChild } from '../support/child';
import { FAST_ENV } from '../support/e2e';

/** Every file (not folder) under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1));
}

const catalogOf = (...names: string[]) => ({
  streams: names.map((name) => ({
    stream: { name, json_schema: {}, supported_sync_modes: ['full_refresh'] },
    sync_mode: 'full_refresh',
    destination_sync_mode: 'overwrite',
  })),
});

/** Running as PID 1 of a new PID namespace (as in Docker) needs unshare and user namespaces. */
const canBePid1 =
  spawnSync('unshare', ['-U', '-r', '-p', '-f', 'true'], { stdio: 'ignore' }).status === 0;

describe('the process edges of the built CLI: stdout closed early, SIGTERM and SIGINT', () => {
  let emu: Emulator;
  const work = mkdtempSync(join(tmpdir(), 'spdm-edges-'));
  let n = 0;
  let full: Record<string, unknown>;
  const children: WatchedChild[] = [];

  before(async () => {
    // APNs exports stay "processing" for good; OneSignal files are generated at once.
    emu = await Emulator.start({
      apns: { processingPolls: 1_000_000 },
      onesignal: { recordsPerSecond: 1_000_000, rateLimitWindowMs: 5 },
    });
    full = connectorConfig(emu.apiUrl);
  });
  after(async () => {
    // A failed test may leave its connector running.
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await emu.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Starts `read` with its own fresh TMPDIR; `prefix` runs it under another command. */
  function startRead(
    config: unknown,
    catalog: unknown,
    options: { readStdout?: boolean; prefix?: string[] } = {},
  ): { child: WatchedChild; tmp: string } {
    const dir = join(work, String(++n));
    const files = writeJsonFiles(dir, { 'config.json': config, 'catalog.json': catalog });
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    const args = ['read', '--config', files['config.json'], '--catalog', files['catalog.json']];
    const child = watch([...(options.prefix ?? []), process.execPath, CONNECTOR_BIN, ...args], {
      env: { ...FAST_ENV, TMPDIR: tmp },
      readStdout: options.readStdout,
    });
    children.push(child);
    return { child, tmp };
  }

  const apnsOnly = () => ({ apns: full.apns });
  const polled = () => emu.requests.some((r) => r.route === 'apns.status');

  it('stdout closed after the first line: a quiet stop, exit 141, no stack, no hang', async () => {
    const { child, tmp } = startRead(
      full,
      catalogOf('apns_delivery_metrics', 'pushwoosh_tracking'),
    );
    await until('the first line', () => child.stdout().includes('\n'));
    child.proc.stdout!.destroy();
    const { code } = await child.exit;
    assert.equal(code, 141);
    const stderr = child.stderr();
    assert.match(stderr, /stdout was closed \(EPIPE\): stopping the sync\./);
    assert.doesNotMatch(stderr, /Unhandled|\n\s+at /);
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('SIGTERM while an export is polled: a LOG, exit 143 within seconds, TMPDIR left empty', async () => {
    emu.reset();
    const { child, tmp } = startRead(apnsOnly(), catalogOf('apns_delivery_metrics'));
    await until('a status check', polled);
    const r = await signalAndWait(child, 'SIGTERM');
    assert.equal(r.code, 143);
    assert.ok(r.seconds < 5, `${r.seconds} s`);
    const last = JSON.parse(child.stdout().trim().split('\n').pop()!) as {
      log: { level: string; message: string };
    };
    assert.deepEqual(last.log, {
      level: 'WARN',
      message: 'Received SIGTERM: stopping the sync and removing temporary files.',
    });
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('SIGINT while a spooled export is parsed into a full pipe: exit 130, spool file deleted', async () => {
    emu.reset();
    const onesignal = { onesignal: full.onesignal };
    // Nobody reads stdout: the connector blocks mid-file, with the spooled export on disk.
    const { child, tmp } = startRead(onesignal, catalogOf('onesignal_message_events'), {
      readStdout: false,
    });
    await until('a spooled file', () => filesUnder(tmp).some((f) => f.includes('/')));
    const r = await signalAndWait(child, 'SIGINT');
    assert.equal(r.code, 130);
    assert.ok(r.seconds < 5, `${r.seconds} s`);
    assert.deepEqual(readdirSync(tmp), []);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} at many moments while records stream: stdout ends on a line boundary`, async () => {
      const onesignal = { onesignal: full.onesignal };
      for (const delayMs of [0, 10, 40]) {
        emu.reset();
        const { child } = startRead(onesignal, catalogOf('onesignal_message_events'));
        await until('the first record', () => child.stdout().includes('"type":"RECORD"'));
        if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
        // A reader that lags behind (as the platform may): the pipe is full when the signal comes,
        // and the connector has a write under way; the reader comes back half a second later.
        child.proc.stdout!.pause();
        await new Promise((resolve) => setTimeout(resolve, 30));
        child.proc.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 500));
        child.proc.stdout!.resume();
        await child.exit;
        const out = child.stdout();
        assert.ok(out.endsWith('\n'), `${signal} after ${delayMs} ms: a cut last line`);
        for (const line of out.slice(0, -1).split('\n'))
          assert.doesNotThrow(
            () => JSON.parse(line),
            `${signal} after ${delayMs} ms: ${line.slice(0, 80)}`,
          );
      }
    });
  }

  it('as PID 1 (Docker): SIGTERM is handled, not ignored', { skip: !canBePid1 }, async () => {
    emu.reset();
    const { child, tmp } = startRead(apnsOnly(), catalogOf('apns_delivery_metrics'), {
      prefix: ['unshare', '-U', '-r', '-p', '-f'],
    });
    await until('a status check', polled);
    // The connector is unshare's child; from outside its namespace, as `docker stop` signals.
    const unshare = child.proc.pid!;
    const pid = Number(readFileSync(`/proc/${unshare}/task/${unshare}/children`, 'utf8').trim());
    assert.ok(pid > 0);
    const r = await signalAndWait(child, 'SIGTERM', pid);
    assert.equal(r.code, 143);
    assert.ok(r.seconds < 5, `${r.seconds} s`);
    assert.deepEqual(readdirSync(tmp), []);
  });
});
