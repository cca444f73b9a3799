import type { RunEnv } from './providers/provider';
import { systemClock } from './util/clock';

/**
 * The run's clock and tuning, read from the environment here, once, at the CLI's start, and
 * passed down; no other module reads a switch from the environment.
 * SOURCE_PDM_EXPORT_RUN_AHEAD=0 turns off the overlap of parsing with the next export's
 * generation (the bench measures what it is worth).
 */
export function runEnvFrom(env: NodeJS.ProcessEnv = process.env): RunEnv {
  const ahead = Number(env.SOURCE_PDM_EXPORT_RUN_AHEAD ?? 1);
  return {
    clock: systemClock(env),
    exportRunAhead: Number.isInteger(ahead) && ahead >= 0 ? ahead : 1,
  };
}
