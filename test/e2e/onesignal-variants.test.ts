/**
 * onesignal_message_events against each variant of OneSignal's loosely documented answers: the
 * file URL's "not ready" as 404 or 403, the file URL under csvFileUrl, next_time_offset as a
 * number. Every record arrives, with no warning.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { configuredCatalog, records, type RunResult } from '../../emulator/harness';
import {
  onesignalFixture,
  type OneSignalAccountFixture,
  type OneSignalOptions,
} from '../../emulator/onesignal';
import { Emulator } from '../../emulator/server';
import { ConnectorSession, errorsOf, logsOf } from '../support/e2e';
import { eventsExpected, pagingAccount, pushMessagesOf } from '../support/onesignal';

const STREAM = 'onesignal_message_events';

describe('onesignal_message_events with each variant of the undocumented answers', () => {
  const session = new ConnectorSession();
  const secrets: string[] = [];
  const recordOnly: string[] = [];

  /** A full read of `account` against a fresh emulator with `options`. */
  async function syncWith(
    account: OneSignalAccountFixture,
    options: OneSignalOptions,
  ): Promise<{ r: RunResult; emu: Emulator }> {
    const emu = await Emulator.start({
      onesignal: { accounts: [account], rateLimitWindowMs: 5, ...options },
    });
    try {
      const apps = account.apps.map((a) => ({ app_id: a.appId, api_key: a.apiKey }));
      secrets.push(...apps.map((a) => a.api_key));
      recordOnly.push(...apps.map((a) => a.app_id));
      const config = { onesignal: { apps, api_url: emu.apiUrl } };
      const catalog = configuredCatalog(await session.run('discover', { config }), 'full_refresh', [
        'onesignal_message_events',
      ]);
      return { r: await session.run('read', { config, catalog }), emu };
    } finally {
      await emu.close();
    }
  }
  const expectedOf = (account: OneSignalAccountFixture) =>
    account.apps.flatMap((a) => eventsExpected(a.appId, pushMessagesOf(a)));

  after(() => {
    session.assertNoLeaks(secrets, recordOnly);
    session.cleanup();
  });

  for (const notReadyStatus of [404, 403] as const) {
    it(`the file URL answers ${notReadyStatus} until ready: every record`, async () => {
      const account = onesignalFixture(new Date());
      // Slow enough that each file is asked for before it is ready.
      const { r, emu } = await syncWith(account, { notReadyStatus, recordsPerSecond: 20_000 });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, STREAM), expectedOf(account));
      const files = emu.requests.filter((x) => x.route === 'onesignal.download');
      const early = files.filter((x) => x.status === notReadyStatus).length;
      assert.ok(early >= 1, `${early} not-ready answers`);
      assert.equal(files.filter((x) => ![200, notReadyStatus].includes(x.status)).length, 0);
      assert.equal(logsOf(r, 'WARN').length, 0, JSON.stringify(logsOf(r, 'WARN')));
    });
  }

  it('the export answer names the file URL csvFileUrl: every record', async () => {
    const account = onesignalFixture(new Date());
    const { r } = await syncWith(account, {
      exportUrlField: 'csvFileUrl',
      recordsPerSecond: 500_000,
    });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(records(r, STREAM), expectedOf(account));
  });

  it('next_time_offset as a number pages through 60 messages', async () => {
    const account = pagingAccount('numeric-offsets', '44444444-2222-4333-8444-555555555555');
    const { r, emu } = await syncWith(account, {
      nextTimeOffset: 'number',
      recordsPerSecond: 500_000,
    });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(records(r, STREAM), expectedOf(account));
    const lists = emu.requests.filter((x) => x.route === 'onesignal.notifications');
    assert.equal(lists.length, 2);
    assert.match(lists[1].query.time_offset, /^\d{10}$/);
  });
});
