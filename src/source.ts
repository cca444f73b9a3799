import type { Source } from './airbyte/entrypoint';
import type { Logger } from './airbyte/logger';
import { secretsOf } from './airbyte/redact';
import type { Stream } from './airbyte/stream';
import { type Config, loadSpec, parseConfig } from './config';
import { apnsStreams, checkApns } from './providers/apns';
import { checkOneSignal, onesignalStreams } from './providers/onesignal';

/** Streams of the contract whose provider code is not written yet. */
const PLANNED = ['pushwoosh_tracking'];

export const pushDeliveryMetrics: Source<Config> = {
  spec: loadSpec,
  secrets: (raw) => secretsOf(loadSpec().connectionSpecification, raw),
  parseConfig: (raw) => parseConfig(raw),

  async check(config: Config, logger: Logger) {
    if (config.apns) {
      const problem = await checkApns(config.apns, logger);
      if (problem) return { ok: false, message: problem };
    }
    if (config.onesignal) {
      const problem = await checkOneSignal(config.onesignal, logger);
      if (problem) return { ok: false, message: problem };
    }
    if (config.pushwoosh) {
      logger.warn(
        'pushwoosh is configured, but this version does not sync it yet; its credentials were not checked.',
      );
    }
    return { ok: true };
  },

  streams(config: Config) {
    const unavailable = new Map<string, string>();
    const streams: Stream[] = [
      ...apnsStreams(config, unavailable),
      ...onesignalStreams(config, unavailable),
    ];
    for (const name of PLANNED)
      unavailable.set(name, 'this version of the connector does not sync it yet');
    return { streams, unavailable };
  },
};
