import { configuredCatalog } from '../../emulator/harness';
import {
  onesignalEventRows,
  onesignalFixture,
  type OneSignalAccountFixture,
  type OneSignalAppFixture,
  type OneSignalMessageFixture,
} from '../../emulator/onesignal';
import { Emulator } from '../../emulator/server';
import type { ConnectorSession } from './e2e';

const DAY_S = 86_400;

/** The push messages of an app sent after `sinceS` (default: 30 days ago), in send order. */
export const pushMessagesOf = (
  app: OneSignalAppFixture,
  sinceS = Math.floor(Date.now() / 1000) - 30 * DAY_S,
) =>
  app.messages
    .filter((m) => (m.channel ?? 'push') === 'push' && m.sendAfter > sinceS)
    .sort((a, b) => a.sendAfter - b.sendAfter || (a.id < b.id ? -1 : 1));

/** The onesignal_message_events records of these messages of an app, in the connector's order. */
export const eventsExpected = (appId: string, messages: OneSignalMessageFixture[]) =>
  messages.flatMap((m) =>
    [...onesignalEventRows(appId, m.id, m.events)].map((r) => ({
      app_id: appId,
      message_id: m.id,
      message_sent_at: new Date(m.sendAfter * 1000).toISOString(),
      ...r.expected,
    })),
  );

/** One app with 60 small messages sent a minute apart since yesterday: more than a list page. */
export function pagingAccount(accountId: string, appId: string): OneSignalAccountFixture {
  const now = Math.floor(Date.now() / 1000);
  const messages = Array.from({ length: 60 }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    sendAfter: now - DAY_S + i * 60,
    completedAt: now - 3600,
    remaining: 0,
    events: 3,
  }));
  return {
    accountId,
    apps: [{ appId, apiKey: `os-key-${accountId}-${'p'.repeat(40)}`, messages }],
  };
}

/** An emulator with the default OneSignal apps, their config, and a catalog of one stream. */
export interface OneSignalSetup {
  emu: Emulator;
  account: OneSignalAccountFixture;
  config: Record<string, unknown>;
  discovered: { streams: { name: string; json_schema: object }[] };
  catalog: unknown;
  /** Closes the emulator and checks that no secret (nor the App ID outside records) leaked. */
  close(): Promise<void>;
}

export async function startOneSignal(
  session: ConnectorSession,
  stream: string,
  lookbackDays: number,
): Promise<OneSignalSetup> {
  // The connector spaces list calls 11 ms apart at time scale 0.01; the emulator's window is
  // smaller than that to absorb loopback jitter, and still catches calls sent back to back.
  // One fixture for the emulator and the test: made twice, their send times could straddle a
  // second and differ.
  const account = onesignalFixture(new Date());
  const emu = await Emulator.start({
    onesignal: { accounts: [account], recordsPerSecond: 500_000, rateLimitWindowMs: 5 },
  });
  const config = {
    lookback_days: lookbackDays,
    onesignal: {
      apps: account.apps.map((a) => ({ app_id: a.appId, api_key: a.apiKey })),
      api_url: emu.apiUrl,
    },
  };
  const d = await session.run('discover', { config });
  return {
    emu,
    account,
    config,
    discovered: d.messages.find((m) => m.type === 'CATALOG')!.catalog,
    catalog: configuredCatalog(d, 'incremental', [stream]),
    async close() {
      await emu.close();
      // The App ID is a record field (the contract's primary key), kept out of everything else.
      session.assertNoLeaks(
        account.apps.map((a) => a.apiKey),
        account.apps.map((a) => a.appId),
      );
      session.cleanup();
    },
  };
}
