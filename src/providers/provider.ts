import type { Logger } from '../airbyte/logger';
import type { Stream } from '../airbyte/stream';
import type { BlockParser, ConfigContext, SharedConfig } from '../config';
import type { Clock } from '../util/clock';

export type { ConfigContext } from '../config';

/** What every stream and check of a run is given: one clock, and the run's tuning. */
export interface RunEnv {
  clock: Clock;
  /** Exports fetched ahead of the one being parsed (0 turns the overlap off, for the bench). */
  exportRunAhead: number;
}

/** A run's config as one provider sees it: the shared part and its own block `K`, of type `B`. */
export type ConfigWith<K extends string, B> = SharedConfig & { [P in K]?: B };

/** A vendor, as the source sees it: its config block, its streams and its credential check. */
export interface Provider<K extends 'apns' | 'onesignal' | 'pushwoosh', B> extends BlockParser {
  /** The config block: `apns`, `onesignal`, `pushwoosh`. */
  key: K;
  parseConfig(block: Record<string, unknown>, ctx: ConfigContext): B;
  /** Its streams for this config; the ones it cannot serve go into `unavailable`, with why. */
  streams(config: ConfigWith<K, B>, unavailable: Map<string, string>, env: RunEnv): Stream[];
  /** Proves the configured credentials; a problem in words, or undefined. */
  check(config: ConfigWith<K, B>, logger: Logger, env: RunEnv): Promise<string | undefined>;
}
