import { runCli } from './airbyte/entrypoint';
import { pushDeliveryMetrics } from './source';
import { runEnvFrom } from './tuning';

/** The CLI: runs one command, then exits with its code once stdout is flushed. */
export function main(argv: string[]): void {
  runCli(argv, pushDeliveryMetrics(runEnvFrom())).then(
    (code) => process.exit(code),
    (err) => {
      // runCli never throws; this is the last line of defence.
      process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
