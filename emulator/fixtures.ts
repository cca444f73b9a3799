import type { OneSignalAccountFixture, OneSignalMessageFixture } from './onesignal';
import type { ApnsTeamFixture } from './server';
import { type PushwooshAccountFixture, pushwooshApplications } from './pushwoosh';

/**
 * Default credentials and ids served by the emulator. The tokens are fake but long and distinctive,
 * so that tests can grep logs and outputs for leaks.
 */
export const DEFAULT_APNS_TEAM: ApnsTeamFixture = {
  teamId: 'ABCDE12345',
  bundleId: 'com.example.pushapp',
  tokens: {
    deliverymetrics: 'apns-dm-vg22eNztOyXqbwHkKzxlbcLTdxXrus5HreBpXZ60',
    broadcastapplicationmetric: 'apns-ba-cAzS1crDzPlenuAluGVHocAgR3xmQyN9Kol0bdRp',
    broadcastchannelmetrics: 'apns-bc-r4E__BibmP3Fp_Q8k8n-5K5R-RrnIGtgRWgc3RZn',
  },
  // Base64 of 16 bytes each; both contain '+' so that encoding mistakes show up.
  channelIds: ['D41q5RL0TcGPplOm+hKIzw==', 'G+4I917R8pT17ERyU1i1kA=='],
};

/**
 * The team's apps, the default one first: each has its own bundle ID, a token per dataset and
 * its own broadcast channels, so that tests of several apps can tell their rows and tokens apart.
 */
export const DEFAULT_APNS_APPS: ApnsTeamFixture[] = [
  DEFAULT_APNS_TEAM,
  {
    teamId: DEFAULT_APNS_TEAM.teamId,
    bundleId: 'com.example.newsapp',
    tokens: {
      deliverymetrics: 'apns-dm-N3wsQp7LrT2vXc9KzYb4HmWd6FjUa1GsE8oPiR5t',
      broadcastapplicationmetric: 'apns-ba-N3wsHs2KdLq8ZrYx5CmVb7NtWe4GjPa9UfR1oI6k',
      broadcastchannelmetrics: 'apns-bc-N3wsXk9RtQ3pLm7VcZb2YhWn5DfGs8JaUe4Ko1Ti',
    },
    channelIds: ['bmV3cy1icmVha2luZy0wMQ=='],
  },
  {
    teamId: DEFAULT_APNS_TEAM.teamId,
    bundleId: 'com.example.shopapp',
    tokens: {
      deliverymetrics: 'apns-dm-Sh0pWq4ZxT8mKc2LrYv6HbNd3FjGs9UaE5oPiR7t',
      broadcastapplicationmetric: 'apns-ba-Sh0pHs6KdLq1ZrYx9CmVb3NtWe7GjPa2UfR5oI8k',
      broadcastchannelmetrics: 'apns-bc-Sh0pXk2RtQ7pLm4VcZb8YhWn1DfGs5JaUe9Ko3Ti',
    },
    channelIds: ['c2hvcC1kZWFscy0wMQ+/', 'c2hvcC1uZXdzLTAy'],
  },
];

/** Number of PROCESSING status polls before an export job reports SUCCESS. */
export const DEFAULT_PROCESSING_POLLS = 2;

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

/**
 * The default Pushwoosh account: a fake server API token (long and distinctive, for leak checks),
 * the application code of Pushwoosh's own tracking-log example, and two more applications, so
 * that the account-wide tracking log holds rows of applications a test does not configure.
 */
export const DEFAULT_PUSHWOOSH_ACCOUNT: PushwooshAccountFixture = {
  apiToken: 'pw-token-Vq3LkT9xZr2WmB7yHcN4sEd8JfUa6GpQ1oKi5tXw',
  applicationCode: 'C90C0-0E786',
  moreApplicationCodes: ['4F7A2-9B1D3', 'E5C8B-0A6F4'],
  messageLogEnabled: true,
};

/** getResults calls that answer "not ready" before a tracking-log job has its file. */
export const DEFAULT_PUSHWOOSH_PENDING_POLLS = 2;

/** Tracking-log events per application and UTC day. */
export const DEFAULT_PUSHWOOSH_EVENTS_PER_DAY = 40;

/** A connector config that syncs every stream from an emulator at `apiUrl` (demo, `npm run emulator`). */
export function connectorConfig(apiUrl: string, now: Date = new Date()): Record<string, unknown> {
  const team = DEFAULT_APNS_TEAM;
  const onesignal = onesignalFixture(now);
  return {
    lookback_days: 3,
    apns: {
      team_id: team.teamId,
      // Two of the team's three apps.
      apps: DEFAULT_APNS_APPS.slice(0, 2).map((app) => ({
        bundle_id: app.bundleId,
        delivery_metrics_token: app.tokens.deliverymetrics,
        broadcast_app_token: app.tokens.broadcastapplicationmetric,
        broadcast_channel_token: app.tokens.broadcastchannelmetrics,
        channel_ids: app.channelIds,
      })),
      api_url: apiUrl,
    },
    onesignal: {
      apps: onesignal.apps.map((a) => ({ app_id: a.appId, api_key: a.apiKey })),
      api_url: apiUrl,
    },
    pushwoosh: {
      api_token: DEFAULT_PUSHWOOSH_ACCOUNT.apiToken,
      // Two of the account's three applications.
      application_codes: pushwooshApplications(DEFAULT_PUSHWOOSH_ACCOUNT).slice(0, 2),
      log_api: 'message_log',
      api_url: apiUrl,
    },
  };
}
