import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { runConnector, type RunResult, writeJsonFiles } from '../../emulator/harness';

/** Every test run's waits (backoff, Retry-After, polling) at 1/100 of real time. */
export const FAST_ENV = { SOURCE_PDM_TIME_SCALE: '0.01' };

/** Runs the connector with files written to a temp folder; keeps every output for the leak scan. */
export class ConnectorSession {
  readonly dir = mkdtempSync(join(tmpdir(), 'spdm-e2e-'));
  readonly outputs: RunResult[] = [];
  private n = 0;

  /** `env`: more environment for every run (e.g. the net guard's). */
  constructor(private readonly env: Record<string, string> = {}) {}

  async run(
    command: string,
    files: { config?: unknown; catalog?: unknown; state?: unknown } = {},
    extraArgs: string[] = [],
  ): Promise<RunResult> {
    const id = ++this.n;
    const args = [command];
    const written = writeJsonFiles(
      join(this.dir, String(id)),
      Object.fromEntries(
        Object.entries(files)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [`${k}.json`, v]),
      ),
    );
    if (written['config.json']) args.push('--config', written['config.json']);
    if (written['catalog.json']) args.push('--catalog', written['catalog.json']);
    if (written['state.json']) args.push('--state', written['state.json']);
    const r = await runConnector([...args, ...extraArgs], { env: { ...FAST_ENV, ...this.env } });
    this.outputs.push(r);
    return r;
  }

  /**
   * Fails when any output of this session carries a secret. `recordOnly` values may appear in
   * RECORD data and nowhere else (OneSignal's App ID: secret in the form, yet a record field).
   */
  assertNoLeaks(secrets: string[], recordOnly: string[] = []): void {
    for (const r of this.outputs) {
      for (const secret of secrets) {
        if (r.stdout.includes(secret) || r.stderr.includes(secret))
          throw new Error(`a secret leaked into the output of run ${this.outputs.indexOf(r) + 1}`);
      }
      for (const value of recordOnly) {
        if (r.stderr.includes(value)) throw new Error('a record-only value leaked into stderr');
        for (const m of r.messages) {
          if (m.type !== 'RECORD' && JSON.stringify(m).includes(value))
            throw new Error(`a record-only value leaked into a ${m.type} message`);
        }
      }
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** AirbyteRecordMessageMetaChange.reason's enum in the protocol (0.18.0). */
const META_REASONS = [
  'SOURCE_RECORD_SIZE_LIMITATION',
  'DESTINATION_RECORD_SIZE_LIMITATION',
  'PLATFORM_RECORD_SIZE_LIMITATION',
  'SOURCE_FIELD_SIZE_LIMITATION',
  'DESTINATION_FIELD_SIZE_LIMITATION',
  'PLATFORM_FIELD_SIZE_LIMITATION',
  'SOURCE_SERIALIZATION_ERROR',
  'DESTINATION_SERIALIZATION_ERROR',
  'PLATFORM_SERIALIZATION_ERROR',
  'SOURCE_RETRIEVAL_ERROR',
  'DESTINATION_TYPECAST_ERROR',
];

/** The records of `stream` that carry meta.changes: their data and their changed fields. */
export function changedRecords(
  r: RunResult,
  stream: string,
): {
  data: Record<string, unknown>;
  changes: { field: string; change: string; reason: string }[];
}[] {
  return r.messages
    .filter((m) => m.type === 'RECORD' && m.record.stream === stream && m.record.meta)
    .map((m) => ({ data: m.record.data, changes: m.record.meta.changes }));
}

/** The one change a nulled field gets. */
export const nulled = (field: string) => ({
  field,
  change: 'NULLED',
  reason: 'SOURCE_SERIALIZATION_ERROR',
});

/** Asserts every stdout line is an Airbyte message that the official protocol schema accepts. */
export function protocolProblems(r: RunResult): string[] {
  const problems = r.badLines.map((l) => `not JSON: ${l.slice(0, 100)}`);
  // The protocol forbids a STATE equal to the stream's previous one with records between them.
  const lastState = new Map<string, { state: string; records: number }>();
  for (const m of r.messages) {
    const ok = ['RECORD', 'STATE', 'LOG', 'SPEC', 'CONNECTION_STATUS', 'CATALOG', 'TRACE'].includes(
      m.type,
    );
    if (!ok) problems.push(`unknown type ${m.type}`);
    if (m.type === 'RECORD') {
      const last = lastState.get(m.record?.stream);
      if (last) last.records++;
    }
    if (m.type === 'STATE' && m.state?.stream) {
      const name = m.state.stream.stream_descriptor?.name;
      const state = JSON.stringify(m.state.stream.stream_state);
      const last = lastState.get(name);
      if (last?.state === state && last.records > 0)
        problems.push(`${name}: a STATE equal to the previous one, with records between them`);
      lastState.set(name, { state, records: 0 });
    }
    if (
      m.type === 'RECORD' &&
      (typeof m.record?.stream !== 'string' ||
        typeof m.record?.emitted_at !== 'number' ||
        typeof m.record?.data !== 'object')
    )
      problems.push('bad RECORD');
    if (m.type === 'RECORD' && m.record.meta !== undefined) {
      const changes: unknown = m.record.meta?.changes;
      const valid =
        Array.isArray(changes) &&
        changes.every(
          (c: { field?: unknown; change?: unknown; reason?: unknown }) =>
            typeof c.field === 'string' &&
            ['NULLED', 'TRUNCATED'].includes(c.change as string) &&
            META_REASONS.includes(c.reason as string),
        );
      if (!valid) problems.push(`bad RECORD meta ${JSON.stringify(m.record.meta)}`);
    }
    if (
      m.type === 'STATE' &&
      (m.state?.type !== 'STREAM' || typeof m.state?.sourceStats?.recordCount !== 'number')
    )
      problems.push('bad STATE');
    if (
      m.type === 'TRACE' &&
      (typeof m.trace?.emitted_at !== 'number' ||
        !['ERROR', 'ESTIMATE', 'STREAM_STATUS', 'ANALYTICS'].includes(m.trace?.type))
    )
      problems.push('bad TRACE');
    if (
      m.type === 'TRACE' &&
      m.trace.type === 'ERROR' &&
      !['config_error', 'system_error', 'transient_error'].includes(m.trace.error?.failure_type)
    )
      problems.push('bad failure_type');
    if (
      m.type === 'LOG' &&
      (typeof m.log?.message !== 'string' ||
        !['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'].includes(m.log?.level))
    )
      problems.push('bad LOG');
  }
  return problems;
}

/** Validates records against the stream schemas of a discover, with strict integers. */
export function schemaProblems(
  catalog: { streams: { name: string; json_schema: object }[] },
  r: RunResult,
): string[] {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const validators = new Map(catalog.streams.map((s) => [s.name, ajv.compile(s.json_schema)]));
  const problems: string[] = [];
  for (const m of r.messages) {
    if (m.type !== 'RECORD') continue;
    const v = validators.get(m.record.stream);
    if (!v) problems.push(`record of undiscovered stream ${m.record.stream}`);
    else if (!v(m.record.data))
      problems.push(
        `${m.record.stream}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(m.record.data)}`,
      );
  }
  return problems;
}

export const errorsOf = (
  r: RunResult,
): {
  message: string;
  failure_type: string;
  internal_message?: string;
  stream_descriptor?: { name: string };
}[] =>
  r.messages
    .filter((m) => m.type === 'TRACE' && m.trace.type === 'ERROR')
    .map((m) => m.trace.error);

export const logsOf = (r: RunResult, level?: string): string[] =>
  r.messages
    .filter((m) => m.type === 'LOG' && (!level || m.log.level === level))
    .map((m) => m.log.message as string);
