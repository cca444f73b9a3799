import type { Source } from './airbyte/entrypoint';
import type { Logger } from './airbyte/logger';
import { secretsOf } from './airbyte/redact';
import type { Stream } from './airbyte/stream';
import { type Config, loadSpec, parseConfig } from './config';
import { apnsStreams, checkApns } from './providers/apns';
import { checkOneSignal, onesignalStreams } from './providers/onesignal';
import { checkPushwoosh, pushwooshStreams } from './providers/pushwoosh';

/** The source: which providers exist, how each proves its credentials and what streams it has. */
export const pushDeliveryMetrics: Source<Config> = {
  spec: loadSpec,
  secrets: (raw) => secretsOf(loadSpec().connectionSpecification, raw),
  parseConfig: (raw) => parseConfig(raw),

  async check(config: Config, logger: Logger) {
    const checks: [unknown, () => Promise<string | undefined>][] = [
      [config.apns, () => checkApns(config.apns!, logger)],
      [config.onesignal, () => checkOneSignal(config.onesignal!, logger)],
      [config.pushwoosh, () => checkPushwoosh(config.pushwoosh!, logger)],
    ];
    for (const [configured, run] of checks) {
      if (!configured) continue;
      const problem = await run();
      if (problem) return { ok: false, message: problem };
    }
    return { ok: true };
  },

  streams(config: Config) {
    const unavailable = new Map<string, string>();
    const streams: Stream[] = [
      ...apnsStreams(config, unavailable),
      ...onesignalStreams(config, unavailable),
      ...pushwooshStreams(config, unavailable),
    ];
    return { streams, unavailable };
  },
};
