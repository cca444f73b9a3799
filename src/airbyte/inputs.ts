import { readFileSync } from 'node:fs';
import { configError } from './errors';
import { isObject, jsonSyntaxError } from '../util/json';
import type { ConfiguredAirbyteCatalog, SyncMode } from './protocol';
import { kindOf, shown } from './redact';

/** Reads a file the platform handed us; a missing or unreadable one is a config_error naming it. */
export function readInputFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? 'error'})`;
    throw configError(`The ${what} file ${JSON.stringify(path)} ${why}.`);
  }
}

/**
 * Parses an input file. A syntax error names the file, line and column only: JSON.parse's own
 * message quotes the text around the error, which may be a secret.
 */
export function parseJsonInput(text: string, what: string, path?: string): unknown {
  const json = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(json);
  } catch {
    const at = jsonSyntaxError(json);
    const where = at ? `: ${at.reason} at line ${at.line}, column ${at.column}` : '';
    const file = path === undefined ? '' : ` (${JSON.stringify(path)})`;
    throw configError(`The ${what} file is not valid JSON${where}${file}.`);
  }
}

/**
 * The platform's state: a list of per-stream states. An empty file, `[]` or `{}` mean none.
 * Returns the raw `stream_state` of each stream; each stream validates its own shape.
 */
export function parseStateInput(text: string, path?: string): Map<string, unknown> {
  const states = new Map<string, unknown>();
  if (text.trim() === '') return states;
  const raw = parseJsonInput(text, 'state', path);
  if (isObject(raw) && Object.keys(raw).length === 0) return states;
  if (!Array.isArray(raw)) {
    throw configError(
      'The state must be a list of per-stream states ([{"type":"STREAM","stream":{...}}]); this one is ' +
        (isObject(raw)
          ? 'an object in the legacy per-connection format, which this connector does not read'
          : kindOf(raw)) +
        '. Reset the connection state, or pass a list of STREAM states.',
    );
  }
  raw.forEach((entry, i) => {
    const where = `State entry ${i}`;
    if (!isObject(entry)) throw configError(`${where} must be an object, not ${kindOf(entry)}.`);
    const type = entry.type ?? (entry.stream ? 'STREAM' : entry.global ? 'GLOBAL' : 'LEGACY');
    if (type !== 'STREAM') {
      throw configError(
        `${where} has type ${String(type)}; this connector reads only per-stream (STREAM) states.`,
      );
    }
    const stream = entry.stream;
    if (
      !isObject(stream) ||
      !isObject(stream.stream_descriptor) ||
      typeof stream.stream_descriptor.name !== 'string'
    ) {
      throw configError(`${where} must have stream.stream_descriptor.name (a string).`);
    }
    const name = stream.stream_descriptor.name;
    const value = stream.stream_state;
    if (value === undefined || value === null) return;
    if (!isObject(value)) {
      throw configError(
        `${where} (stream ${name}) has a stream_state that is not an object: ${kindOf(value)}.`,
      );
    }
    states.set(name, value);
  });
  return states;
}

const SYNC_MODES: SyncMode[] = ['full_refresh', 'incremental'];

export function parseCatalogInput(text: string, path?: string): ConfiguredAirbyteCatalog {
  const raw = parseJsonInput(text, 'catalog', path);
  if (!isObject(raw) || !Array.isArray(raw.streams)) {
    throw configError(
      'The catalog must be a JSON object with a "streams" list (a ConfiguredAirbyteCatalog).',
    );
  }
  const seen = new Set<string>();
  raw.streams.forEach((entry, i) => {
    const stream = isObject(entry) ? entry.stream : undefined;
    if (
      !isObject(entry) ||
      !isObject(stream) ||
      typeof stream.name !== 'string' ||
      stream.name === ''
    ) {
      throw configError(`Catalog stream ${i} must have stream.name (a string).`);
    }
    if (!SYNC_MODES.includes(entry.sync_mode as SyncMode)) {
      throw configError(
        `Catalog stream '${stream.name}' has sync_mode ${shown(entry.sync_mode)}; expected full_refresh or incremental.`,
      );
    }
    if (seen.has(stream.name)) throw configError(`Catalog lists stream '${stream.name}' twice.`);
    seen.add(stream.name);
  });
  return raw as unknown as ConfiguredAirbyteCatalog;
}
