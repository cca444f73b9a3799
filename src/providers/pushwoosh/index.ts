import { ConnectorError } from '../../airbyte/errors';
import type { Logger } from '../../airbyte/logger';
import type { Stream } from '../../airbyte/stream';
import type { Clock } from '../../util/clock';
import type { ConfigWith, Provider } from '../provider';
import { type PushwooshConfig, parsePushwooshConfig } from './config';
import { addDays, dayOf } from '../../util/time';
import { PushwooshApi } from './api';
import { STREAM, trackingStream } from './tracking-stream';

export function pushwooshStreams(
  config: ConfigWith<'pushwoosh', PushwooshConfig>,
  unavailable: Map<string, string>,
  clock: Clock,
  opts: { runAhead: number },
): Stream[] {
  if (!config.pushwoosh) {
    unavailable.set(STREAM, 'the configuration has no pushwoosh block');
    return [];
  }
  return [trackingStream(config, config.pushwoosh, clock, opts)];
}

/**
 * Proves the token with the configured API's smallest call; getMessageLog also each application
 * code (getTrackingLog takes none: the tracking log covers the whole account).
 */
export async function checkPushwoosh(
  pushwoosh: PushwooshConfig,
  logger: Logger,
  clock: Clock,
): Promise<string | undefined> {
  const api = new PushwooshApi(pushwoosh, logger, clock);
  const day = addDays(dayOf(new Date(clock.now())), -1);
  try {
    if (pushwoosh.log_api === 'tracking_log') await api.requestTrackingLog(day);
    else
      for (const app of pushwoosh.application_codes)
        await api.messageLogPage(app, `${day} 00:00:00`, `${day} 00:01:00`, 1);
  } catch (err) {
    if (err instanceof ConnectorError) return err.message;
    throw err;
  }
  return undefined;
}

export const pushwooshProvider: Provider<'pushwoosh', PushwooshConfig> = {
  key: 'pushwoosh',
  parseConfig: (block, ctx) => parsePushwooshConfig(block, ctx),
  streams: (config, unavailable, env) =>
    pushwooshStreams(config, unavailable, env.clock, { runAhead: env.exportRunAhead }),
  check: (config, logger, env) => checkPushwoosh(config.pushwoosh!, logger, env.clock),
};
