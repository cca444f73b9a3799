import type { RunEnv } from './providers/provider';
import { systemClock } from './util/clock';

/**
 * The run's clock and tuning: the connector's own switches (SOURCE_PDM_*) are read from the
 * environment here, once, at the CLI's start (SOURCE_PDM_TIME_SCALE through `systemClock`), and
 * passed down. Airbyte's LOG_LEVEL is the one other switch, read by the runtime's logger.
 * SOURCE_PDM_EXPORT_RUN_AHEAD is how many exports are fetched ahead of the one being parsed
 * (default 1; anything but a whole number >= 0 counts as 1). With 0, parsing no longer overlaps
 * the generation of the next export of the same account (OneSignal's exports of different
 * accounts still overlap); the bench measures what the overlap is worth.
 */
export function runEnvFrom(env: NodeJS.ProcessEnv = process.env): RunEnv {
  const ahead = Number(env.SOURCE_PDM_EXPORT_RUN_AHEAD ?? 1);
  return {
    clock: systemClock(env),
    exportRunAhead: Number.isInteger(ahead) && ahead >= 0 ? ahead : 1,
  };
}
