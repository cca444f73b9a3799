import { writeFileSync } from 'node:fs';
import { installSignalHandlers, shutdown } from '../../src/util/shutdown';

/**
 * A process that installs the shutdown handlers as the CLI does, with cleanups the tests watch:
 * `node shutdown-child.js <marker file> [hang|write]`. `hang` adds a cleanup that never ends;
 * `write` writes a line to stdout every 10 ms.
 */
const [marker, mode] = process.argv.slice(2);
installSignalHandlers({ log: (m) => process.stderr.write(`log: ${m}\n`) });
shutdown.signal.addEventListener('abort', () => process.stderr.write('aborted\n'));
shutdown.onCleanup(() => {
  throw new Error('a failing cleanup does not stop the others');
});
shutdown.onCleanup(async () => writeFileSync(marker, 'cleaned'));
shutdown.onCleanup(() => writeFileSync(`${marker}.unregistered`, 'ran'))();
if (mode === 'hang') shutdown.onCleanup(() => new Promise(() => {}));
if (mode === 'write') setInterval(() => process.stdout.write('a line\n'), 10);
else setInterval(() => {}, 1000);
process.stderr.write('ready\n');
