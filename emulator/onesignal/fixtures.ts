import type { OneSignalAccountFixture, OneSignalMessageFixture } from './types';

const DAY_S = 86_400;
const HOUR_S = 3_600;

/** Default OneSignal credentials (fake, long and distinctive like the APNs tokens). */
export const DEFAULT_ONESIGNAL_APPS = [
  {
    appId: '026fdc09-6dd8-4fef-ab8b-eac3ec32b86d',
    apiKey: 'os-key-Pts0svCXWL2Ku3iZEshAEcKUZYpg2J79Qs1e0g3m',
  },
  {
    appId: 'f0b9e8bf-3782-4cb5-a7af-27d3712b329b',
    apiKey: 'os-key-bjyqV_R6KsCEiA02IepGgxtr5lJMhY0BrV2Pmn7J',
  },
] as const;

/**
 * The default OneSignal account, relative to the emulator clock: app 1 has six finished push
 * messages over 25 days (one scheduled, so queued_at order differs from send order), one still
 * delivering and one email; app 2 has three push messages.
 */
export function onesignalFixture(now: Date): OneSignalAccountFixture {
  const t = Math.floor(now.getTime() / 1000);
  const done = (
    id: string,
    ago: number,
    events: number,
    extra: Partial<OneSignalMessageFixture> = {},
  ): OneSignalMessageFixture => ({
    id,
    sendAfter: t - ago,
    completedAt: t - ago + 60 + (events % 600),
    remaining: 0,
    events,
    ...extra,
  });
  const [a1, a2] = DEFAULT_ONESIGNAL_APPS;
  return {
    accountId: 'os-account-8eef6ec7',
    apps: [
      {
        ...a1,
        messages: [
          done('09ee7f29-13bd-49f0-ba94-ed421f6688d9', 24 * DAY_S - 3 * HOUR_S, 50),
          done('940b86c2-0e0c-4d44-947f-7e2d586b1a7b', 20 * DAY_S, 1200),
          done('314c2ea1-2fcc-426d-a62f-204330682472', 16 * DAY_S, 3000),
          done('f52a857c-cfe5-4ac1-9715-e026ee96d229', 12 * DAY_S - 5 * HOUR_S, 480, {
            queuedAt: t - 17 * DAY_S,
          }),
          done('21ce213c-6697-4a5b-9c2d-4cf957744790', 7 * DAY_S, 2200),
          done('e7a25501-662a-4c82-a188-8fb51295fa7e', 2 * DAY_S, 777),
          done('4917d149-f83f-4128-a532-e934404f03ce', 5 * DAY_S + HOUR_S, 300, {
            channel: 'email',
          }),
          {
            id: '0ccfc414-dab1-4227-b1a8-c5bbabe42ded',
            sendAfter: t - 3 * HOUR_S,
            completedAt: null,
            remaining: 400,
            events: 1500,
          },
        ],
      },
      {
        ...a2,
        messages: [
          done('1984f2a1-846d-44cf-9114-354abd01332f', 22 * DAY_S - HOUR_S, 10),
          done('bc6d9bce-a9a1-4a01-8780-76a46c3ba7de', 9 * DAY_S, 500),
          done('1ab00ee6-981b-4e25-8bfd-7b12e5666bfa', DAY_S + 2 * HOUR_S, 120),
        ],
      },
    ],
  };
}
