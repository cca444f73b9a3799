import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The built connector's entry point: what `bin` in package.json runs. */
export const CONNECTOR_BIN = join(__dirname, '..', '..', 'bin', 'source-push-delivery-metrics.js');

export type Message = { type: string; [key: string]: unknown } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  messages: Message[];
  /** stdout lines that are not JSON objects (the protocol allows none). */
  badLines: string[];
  seconds: number;
}

/** Runs the connector as the platform does: a child process, messages on stdout. */
export function runConnector(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; command?: string[] } = {},
): Promise<RunResult> {
  const started = Date.now();
  const [cmd, ...pre] = options.command ?? [process.execPath, CONNECTOR_BIN];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const messages: Message[] = [];
      const badLines: string[] = [];
      for (const line of stdout.split('\n')) {
        if (line === '') continue;
        try {
          const m = JSON.parse(line) as unknown;
          if (m && typeof m === 'object' && !Array.isArray(m)) messages.push(m as Message);
          else badLines.push(line);
        } catch {
          badLines.push(line);
        }
      }
      resolve({
        code,
        stdout,
        stderr: Buffer.concat(err).toString('utf8'),
        messages,
        badLines,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

export const records = (r: RunResult, stream?: string): Record<string, unknown>[] =>
  r.messages
    .filter((m) => m.type === 'RECORD' && (!stream || m.record.stream === stream))
    .map((m) => m.record.data as Record<string, unknown>);

export const states = (r: RunResult, stream?: string): Message[] =>
  r.messages.filter(
    (m) => m.type === 'STATE' && (!stream || m.state.stream.stream_descriptor.name === stream),
  );

export const traces = (r: RunResult, type?: string): Message[] =>
  r.messages.filter((m) => m.type === 'TRACE' && (!type || m.trace.type === type));

export const statuses = (r: RunResult, stream: string): string[] =>
  traces(r, 'STREAM_STATUS')
    .filter((m) => m.trace.stream_status.stream_descriptor.name === stream)
    .map((m) => m.trace.stream_status.status as string);

/** The platform's state file after a read: the last state of each stream. */
export function stateFileOf(r: RunResult): unknown[] {
  const last = new Map<string, unknown>();
  for (const m of states(r))
    last.set(m.state.stream.stream_descriptor.name, { type: 'STREAM', stream: m.state.stream });
  return [...last.values()];
}

/** A configured catalog for every stream a discover found. */
export function configuredCatalog(
  discovered: RunResult,
  syncMode: 'full_refresh' | 'incremental',
  only?: string[],
): unknown {
  const catalog = discovered.messages.find((m) => m.type === 'CATALOG');
  if (!catalog) throw new Error('discover printed no CATALOG');
  const streams = (catalog.catalog.streams as { name: string }[])
    .filter((s) => !only || only.includes(s.name))
    .map((stream) => ({
      stream,
      sync_mode: syncMode,
      destination_sync_mode: syncMode === 'incremental' ? 'append_dedup' : 'overwrite',
    }));
  return { streams };
}

/** Writes JSON files into `dir` and returns their paths. */
export function writeJsonFiles(
  dir: string,
  files: Record<string, unknown>,
): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const paths: Record<string, string> = {};
  for (const [name, value] of Object.entries(files)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  }
  return paths;
}
