import type { Source } from './airbyte/entrypoint';
import type { Logger } from './airbyte/logger';
import { secretsOf } from './airbyte/redact';
import type { Stream } from './airbyte/stream';
import { loadSpec, parseConfigWith, type SharedConfig, type Spec } from './config';
import { PROVIDERS } from './providers';
import type { ApnsConfig } from './providers/apns/config';
import type { OneSignalConfig } from './providers/onesignal/config';
import type { RunEnv } from './providers/provider';
import type { PushwooshConfig } from './providers/pushwoosh/config';

/** A parsed config: the shared part, and the block of each provider configured. */
export interface Config extends SharedConfig {
  apns?: ApnsConfig;
  onesignal?: OneSignalConfig;
  pushwoosh?: PushwooshConfig;
}

/** Validates a raw config and fills in defaults (see `parseConfigWith`), with every provider. */
export function parseConfig(raw: unknown, spec: Spec = loadSpec()): Config {
  return parseConfigWith<Config>(raw, PROVIDERS, spec);
}

/** The source: which providers exist, how each proves its credentials and what streams it has. */
export function pushDeliveryMetrics(env: RunEnv): Source<Config> {
  return {
    spec: loadSpec,
    secrets: (raw) => secretsOf(loadSpec().connectionSpecification, raw),
    parseConfig: (raw) => parseConfig(raw),

    async check(config: Config, logger: Logger) {
      for (const provider of PROVIDERS) {
        if (!config[provider.key]) continue;
        const problem = await provider.check(config, logger, env);
        if (problem) return { ok: false, message: problem };
      }
      return { ok: true };
    },

    streams(config: Config) {
      const unavailable = new Map<string, string>();
      const streams: Stream[] = PROVIDERS.flatMap((p) => p.streams(config, unavailable, env));
      return { streams, unavailable };
    },
  };
}
