import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { Clock } from '../../util/clock';
import type { ConfigWith, Provider } from '../provider';
import { type OneSignalConfig, parseOneSignalConfig } from './config';
import { OneSignalAppClient } from './api';
import { messageEventsStream, STREAM } from './message-events';
import { MESSAGES_STREAM, messagesStream } from './messages-stream';

export function onesignalStreams(
  config: ConfigWith<'onesignal', OneSignalConfig>,
  unavailable: Map<string, string>,
  clock: Clock,
  opts: { runAhead: number },
): Stream[] {
  if (!config.onesignal) {
    unavailable.set(STREAM, 'the configuration has no onesignal block');
    unavailable.set(MESSAGES_STREAM, 'the configuration has no onesignal block');
    return [];
  }
  return [
    messageEventsStream(config, config.onesignal, clock, opts),
    messagesStream(config, config.onesignal, clock),
  ];
}

/** Proves each app's id and key with one small View messages call. */
export async function checkOneSignal(
  onesignal: OneSignalConfig,
  logger: Logger,
  clock: Clock,
): Promise<string | undefined> {
  for (const [index, app] of onesignal.apps.entries()) {
    try {
      await new OneSignalAppClient(
        { appId: app.app_id, apiKey: app.api_key, index },
        onesignal.api_url,
        logger,
        clock,
      ).probe();
    } catch (err) {
      if (err instanceof ConnectorError) return err.message;
      throw err;
    }
  }
  return undefined;
}

export const onesignalProvider: Provider<'onesignal', OneSignalConfig> = {
  key: 'onesignal',
  parseConfig: (block, ctx) => parseOneSignalConfig(block, ctx),
  streams: (config, unavailable, env) =>
    onesignalStreams(config, unavailable, env.clock, { runAhead: env.exportRunAhead }),
  check: (config, logger, env) => checkOneSignal(config.onesignal!, logger, env.clock),
};
