import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { Config, PushwooshConfig } from '../../config';
import { addDays, todayUtc } from '../../util/time';
import { PushwooshApi } from './api';
import { PushwooshTrackingStream, STREAM } from './tracking';

export function pushwooshStreams(config: Config, unavailable: Map<string, string>): Stream[] {
  if (!config.pushwoosh) {
    unavailable.set(STREAM, 'the configuration has no pushwoosh block');
    return [];
  }
  return [new PushwooshTrackingStream(config, config.pushwoosh)];
}

/** Proves the token and application code with the configured API's smallest call. */
export async function checkPushwoosh(
  pushwoosh: PushwooshConfig,
  logger: Logger,
): Promise<string | undefined> {
  const api = new PushwooshApi(pushwoosh, logger);
  try {
    if (pushwoosh.log_api === 'tracking_log') {
      await api.requestTrackingLog(addDays(todayUtc(), -1));
    } else {
      const day = addDays(todayUtc(), -1);
      await api.messageLogPage(`${day} 00:00:00`, `${day} 00:01:00`, 1);
    }
  } catch (err) {
    if (err instanceof ConnectorError) return err.message;
    throw err;
  }
  return undefined;
}
