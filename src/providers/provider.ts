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

/** What a provider's config parser is given: where to put problems, and the shared rules. */
export interface ConfigContext {
  /** Problems a schema cannot say, each naming its field; all are reported at once. */
  problems: string[];
  /** What a message may tell of a value (nothing of a secret, no object, no list). */
  show(value: unknown): string;
  /** A valid `api_url` (https, or http for a loopback host), without a trailing slash. */
  apiUrl(field: string, value: unknown, fallback: string): string;
}

/** A vendor, as the source sees it: its config block, its streams and its credential check. */
export interface Provider {
  /** The config block: `apns`, `onesignal`, `pushwoosh`. */
  key: 'apns' | 'onesignal' | 'pushwoosh';
  /**
   * Its config block, which the spec's schema has checked, with defaults filled in; the rules a
   * schema cannot say go into `ctx.problems`.
   */
  parseConfig(block: Record<string, unknown>, ctx: ConfigContext): unknown;
  /** Its streams for this config; the ones it cannot serve go into `unavailable`, with why. */
  streams(config: Config, unavailable: Map<string, string>, env: RunEnv): Stream[];
  /** Proves the configured credentials; a problem in words, or undefined. */
  check(config: Config, logger: Logger, env: RunEnv): Promise<string | undefined>;
}
