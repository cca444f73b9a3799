import { asConnectorError, configError } from './errors';
import { parseCatalogInput, parseJsonInput, parseStateInput, readInputFile } from './inputs';
import type { Logger } from './logger';
import { AirbyteLogger, MessageWriter } from './output';
import type { AirbyteStream, JsonObject } from './protocol';
import { runRead } from './read';
import { processRedactor, type Redactor } from './redact';
import type { Stream } from './stream';
import { shutdown } from '../util/shutdown';

/** What a source provides; the entrypoint does the rest of the protocol. */
export interface Source<C> {
  spec(): { documentationUrl?: string; connectionSpecification: JsonObject };
  /** Every secret value of a raw (maybe invalid) config, so that they are redacted from the start. */
  secrets(rawConfig: unknown): string[];
  /** Validates; throws a config_error that names each bad field. */
  parseConfig(rawConfig: unknown, logger: Logger): C;
  /** Proves each credential; returns a failure message naming provider and field. */
  check(config: C, logger: Logger): Promise<{ ok: true } | { ok: false; message: string }>;
  /** The streams this config can serve, and why the others cannot be served. */
  streams(config: C, logger: Logger): { streams: Stream[]; unavailable: Map<string, string> };
}

const USAGE = `usage:
  spec
  check --config <config.json>
  discover --config <config.json>
  read --config <config.json> --catalog <catalog.json> [--state <state.json>]
`;

const FLAGS: Record<string, { required: string[]; optional: string[] }> = {
  spec: { required: [], optional: [] },
  check: { required: ['config'], optional: [] },
  discover: { required: ['config'], optional: [] },
  read: { required: ['config', 'catalog'], optional: ['state'] },
};

function parseArgs(argv: string[]): { command: string; flags: Record<string, string> } {
  const [command, ...rest] = argv;
  const allowed = command ? FLAGS[command] : undefined;
  if (!allowed) {
    throw configError(
      command
        ? `Unknown command '${command}'. Expected spec, check, discover or read.`
        : 'No command given. Expected spec, check, discover or read.',
    );
  }
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    const name = m?.[1];
    if (!m || !name || ![...allowed.required, ...allowed.optional].includes(name)) {
      throw configError(`Unexpected argument '${arg}' for '${command}'.`);
    }
    const value = m[2] ?? rest[++i];
    if (value === undefined || value === '') throw configError(`--${name} needs a file path.`);
    flags[name] = value;
  }
  const missing = allowed.required.filter((f) => !(f in flags));
  if (missing.length)
    throw configError(`'${command}' needs ${missing.map((f) => `--${f} <file>`).join(' and ')}.`);
  return { command, flags };
}

function catalogEntry(stream: Stream): AirbyteStream {
  return {
    name: stream.name,
    json_schema: stream.schema(),
    supported_sync_modes: ['full_refresh', 'incremental'],
    source_defined_cursor: true,
    default_cursor_field: stream.cursorField,
    source_defined_primary_key: stream.primaryKey,
    is_resumable: true,
  };
}

/** Runs one command; resolves to the process exit code. Never throws. */
export async function runCli<C>(
  argv: string[],
  source: Source<C>,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
  redactor: Redactor = processRedactor,
  halt: AbortSignal = shutdown.signal,
): Promise<number> {
  const writer = new MessageWriter(stdout, redactor, halt);
  const logger = new AirbyteLogger(writer);
  let code = 0;
  let command = '';
  try {
    const args = parseArgs(argv);
    command = args.command;
    if (command === 'spec') {
      await writer.message({ type: 'SPEC', spec: source.spec() as unknown as JsonObject });
    } else {
      const path = args.flags.config;
      const rawConfig = parseJsonInput(readInputFile(path, 'config'), 'config', path);
      // Before validation, whose messages may quote values.
      for (const s of source.secrets(rawConfig)) redactor.add(s);
      if (command === 'check') {
        code = await check(source, rawConfig, writer, logger);
      } else {
        const config = source.parseConfig(rawConfig, logger);
        if (command === 'discover') {
          const { streams } = source.streams(config, logger);
          await writer.message({
            type: 'CATALOG',
            catalog: { streams: streams.map(catalogEntry) } as unknown as JsonObject,
          });
        } else {
          const catalog = parseCatalogInput(
            readInputFile(args.flags.catalog, 'catalog'),
            args.flags.catalog,
          );
          const states = args.flags.state
            ? parseStateInput(readInputFile(args.flags.state, 'state'), args.flags.state)
            : new Map();
          const { streams, unavailable } = source.streams(config, logger);
          const ok = await runRead({ streams, unavailable, catalog, states }, writer, logger);
          code = ok ? 0 : 1;
        }
      }
    }
  } catch (err) {
    const e = asConnectorError(err);
    if (!command) stderr.write(redactor.redact(`${e.message}\n${USAGE}`));
    await writer.error(e.message, e.failureType, e.internalMessage);
    code = 1;
  }
  await writer.close();
  return code;
}

async function check<C>(
  source: Source<C>,
  rawConfig: unknown,
  writer: MessageWriter,
  logger: Logger,
): Promise<number> {
  let result: { ok: true } | { ok: false; message: string };
  try {
    const config = source.parseConfig(rawConfig, logger);
    result = await source.check(config, logger);
  } catch (err) {
    const e = asConnectorError(err);
    // As in the Python CDK: a config problem is a failed check (exit 0); anything else is an error.
    if (e.failureType !== 'config_error') throw e;
    result = { ok: false, message: e.message };
  }
  await writer.message({
    type: 'CONNECTION_STATUS',
    connectionStatus: result.ok
      ? { status: 'SUCCEEDED' }
      : { status: 'FAILED', message: result.message },
  });
  return 0;
}
