import { DEFAULT_APNS_APPS, DEFAULT_APNS_TEAM } from './apns/fixtures';
import { onesignalFixture } from './onesignal/fixtures';
import { pushwooshApplications } from './pushwoosh';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from './pushwoosh/fixtures';

// Each vendor's fixtures live beside its module; this file gathers them for tests, demo and soak.
export * from './apns/fixtures';
export * from './onesignal/fixtures';
export * from './pushwoosh/fixtures';

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
