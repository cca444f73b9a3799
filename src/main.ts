import { runCli } from './airbyte/entrypoint';
import { MessageWriter } from './airbyte/output';
import { processRedactor } from './airbyte/redact';
import { pushDeliveryMetrics } from './source';
import { runEnvFrom } from './tuning';
import { installSignalHandlers, shutdown, usePrivateTmpdir } from './util/shutdown';

/** A line about the process itself: an Airbyte LOG while stdout is open, else on stderr. */
function notice(message: string): void {
  const out = process.stdout;
  if (out.writable && !out.destroyed)
    void new MessageWriter(out, processRedactor).log('WARN', message);
  else process.stderr.write(`${message}\n`);
}

/** The CLI: runs one command, then exits with its code once stdout is flushed. */
export function main(argv: string[]): void {
  usePrivateTmpdir();
  installSignalHandlers({ log: notice });
  runCli(argv, pushDeliveryMetrics(runEnvFrom())).then(
    (code) => {
      // A shutdown in progress exits by itself, with its own code, once its cleanups ran.
      if (!shutdown.signal.aborted) process.exit(code);
    },
    (err) => {
      // runCli never throws; this is the last line of defence.
      process.stderr.write(
        processRedactor.redact(`fatal: ${(err as Error)?.message ?? String(err)}\n`),
      );
      process.exit(1);
    },
  );
}
