import { Emulator } from './server';
import { connectorConfig, DEFAULT_APNS_TEAM } from './fixtures';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: node lib/emulator/main.js [--port N] [--files-port N]\n`,
  );
  process.exit(2);
}

function parsePort(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0 || n > 65535) {
    usage(`${flag} needs a port number 0..65535`);
  }
  return n;
}

async function main(): Promise<void> {
  let port = 0;
  let filesPort = 0;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = () => (inline !== undefined ? inline : args[++i]);
    if (flag === '--port') port = parsePort(flag, value());
    else if (flag === '--files-port') filesPort = parsePort(flag, value());
    else usage(`unknown argument ${args[i]}`);
  }
  const emu = await Emulator.start({ port, filesPort });
  // One JSON line, so scripts can read the URLs and credentials.
  process.stdout.write(
    `${JSON.stringify({ apiUrl: emu.apiUrl, filesUrl: emu.filesUrl, apns: DEFAULT_APNS_TEAM, config: connectorConfig(emu.apiUrl) })}\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`emulator failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
