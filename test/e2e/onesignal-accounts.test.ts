import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configuredCatalog, records, type RunResult } from '../../emulator/harness';
import type { OneSignalAccountFixture } from '../../emulator/onesignal';
import { Emulator } from '../../emulator/server';
import { ConnectorSession, errorsOf } from '../support/e2e';

const STREAM = 'onesignal_message_events';
const NOW_S = Math.floor(Date.now() / 1000);

/** An account with one app of three finished messages; each export takes 0.5 s to generate. */
const accountOf = (n: number): OneSignalAccountFixture => ({
  accountId: `acct-${n}`,
  apps: [
    {
      appId: `0000000${n}-0000-4000-8000-0000000000aa`,
      apiKey: `os-key-account-${n}-${'k'.repeat(40)}`,
      messages: [0, 1, 2].map((i) => ({
        id: `0000000${n}-0000-4000-8000-00000000000${i}`,
        sendAfter: NOW_S - 86_400 + i * 600,
        completedAt: NOW_S - 86_400 + i * 600 + 60,
        remaining: 0,
        events: 2000,
      })),
    },
  ],
});

describe('OneSignal: exports in parallel across accounts', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  const accounts = [accountOf(1), accountOf(2)];
  let catalog: unknown;
  const config = (labels: (string | undefined)[]) => ({
    start_date: new Date((NOW_S - 3 * 86_400) * 1000).toISOString().slice(0, 10),
    onesignal: {
      apps: accounts.map((a, i) => ({
        app_id: a.apps[0].appId,
        api_key: a.apps[0].apiKey,
        ...(labels[i] ? { account: labels[i] } : {}),
      })),
      api_url: emu.apiUrl,
    },
  });

  before(async () => {
    emu = await Emulator.start({
      onesignal: { accounts, recordsPerSecond: 4000, rateLimitWindowMs: 5 },
    });
    const d = await session.run('discover', { config: config([]) });
    catalog = configuredCatalog(d, 'full_refresh', [STREAM]);
  });
  after(async () => {
    await emu.close();
    session.cleanup();
  });

  /** How many export requests of one account were made while the other's export was running. */
  function overlaps(): number {
    const exports = emu.requests.filter((r) => r.route === 'onesignal.export' && r.status === 200);
    const downloads = emu.requests.filter(
      (r) => r.route === 'onesignal.download' && r.status === 200,
    );
    let n = 0;
    for (const e of exports) {
      const app = e.query.app_id;
      // Another app's export requested before this one's file was downloaded.
      const done = downloads.find((d) => d.at >= e.at && d.path.includes(app));
      if (!done) continue;
      n += exports.filter((o) => o.query.app_id !== app && o.at > e.at && o.at < done.at).length;
    }
    return n;
  }

  async function sync(labels: (string | undefined)[]): Promise<RunResult> {
    emu.reset();
    const r = await session.run('read', { config: config(labels), catalog });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.equal(records(r, STREAM).length, 12_000);
    return r;
  }

  it('apps labelled with two accounts export at the same time, never two in one account', async () => {
    const r = await sync(['main', 'eu']);
    assert.ok(overlaps() >= 2, `exports of the two accounts overlapped (${overlaps()})`);
    assert.equal(emu.onesignalConcurrentExportViolations, 0);
    // Records alternate between the accounts' messages; each app's own stay in send order.
    const order = records(r, STREAM).map((x) => `${x.app_id}/${x.message_id}`);
    const firsts = [...new Set(order)];
    assert.equal(firsts.length, 6);
    assert.notEqual(firsts[0].split('/')[0], firsts[1].split('/')[0]);
  });

  it('without labels every app shares one export slot, as one account', async () => {
    await sync([undefined, undefined]);
    assert.equal(overlaps(), 0);
    assert.equal(emu.onesignalConcurrentExportViolations, 0);
  });
});
