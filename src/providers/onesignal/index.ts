import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { Config, OneSignalConfig } from '../../config';
import { OneSignalAppClient } from './api';
import { OneSignalMessageEventsStream, STREAM } from './message-events';

export function onesignalStreams(config: Config, unavailable: Map<string, string>): Stream[] {
  if (!config.onesignal) {
    unavailable.set(STREAM, 'the configuration has no onesignal block');
    return [];
  }
  return [new OneSignalMessageEventsStream(config, config.onesignal)];
}

/** Proves each app's id and key with one small View messages call. */
export async function checkOneSignal(
  onesignal: OneSignalConfig,
  logger: Logger,
): Promise<string | undefined> {
  for (const [index, app] of onesignal.apps.entries()) {
    try {
      await new OneSignalAppClient(
        { appId: app.app_id, apiKey: app.api_key, index },
        onesignal.api_url,
        logger,
      ).probe();
    } catch (err) {
      if (err instanceof ConnectorError) return err.message;
      throw err;
    }
  }
  return undefined;
}
