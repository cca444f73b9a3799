import type { Logger } from '../airbyte/logger';
import type { Stream } from '../airbyte/stream';
import type { Config } from '../config';
import type { Clock } from '../util/clock';

/** What every stream and check of a run is given: one clock, and the run's tuning. */
export interface RunEnv {
  clock: Clock;
  /** Exports fetched ahead of the one being parsed (0 turns the overlap off, for the bench). */
  exportRunAhead: number;
}

/** A vendor, as the source sees it: its config block, its streams and its credential check. */
export interface Provider {
  /** The config block: `apns`, `onesignal`, `pushwoosh`. */
  key: 'apns' | 'onesignal' | 'pushwoosh';
  /** Its streams for this config; the ones it cannot serve go into `unavailable`, with why. */
  streams(config: Config, unavailable: Map<string, string>, env: RunEnv): Stream[];
  /** Proves the configured credentials; a problem in words, or undefined. */
  check(config: Config, logger: Logger, env: RunEnv): Promise<string | undefined>;
}
