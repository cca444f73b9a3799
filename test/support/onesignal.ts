import {
  onesignalEventRows,
  type OneSignalAccountFixture,
  type OneSignalAppFixture,
  type OneSignalMessageFixture,
} from '../../emulator/onesignal';

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
