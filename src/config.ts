import Ajv, { type ErrorObject } from 'ajv';
import { configError } from './airbyte/errors';
import type { JsonObject } from './airbyte/protocol';
import { kindOf, MIN_REDACTED_LENGTH, secretFieldNames, secretsOf, shown } from './airbyte/redact';
import { isLoopbackHost } from './http/urls';
import { readJsonResource } from './resources';
import { isObject } from './util/json';
import { isValidDay, todayUtc } from './util/time';

/**
 * The part of the config every provider reads: the sync window and the export waits. Each
 * provider declares and parses its own block (src/providers/<name>/config.ts); the source's
 * `Config` (src/source.ts) is this and every block.
 */
export interface SharedConfig {
  start_date?: string;
  lookback_days: number;
  export_poll_max_interval_seconds: number;
  export_timeout_minutes: number;
}

/** What a provider's config parser is given: where to put problems, and the shared rules. */
export interface ConfigContext {
  /** Problems a schema cannot say, each naming its field; all are reported at once. */
  problems: string[];
  /** What a message may tell of a value (nothing of a secret, no object, no list). */
  show(value: unknown): string;
  /** A valid `api_url` (https, or http for a loopback host), without a trailing slash. */
  apiUrl(field: string, value: unknown, fallback: string): string;
}

/** A config block's key and parser (a `Provider`, as the parser sees it). */
export interface BlockParser {
  key: string;
  /**
   * Its config block, which the spec's schema has checked, with defaults filled in; the rules a
   * schema cannot say go into `ctx.problems`.
   */
  parseConfig(block: Record<string, unknown>, ctx: ConfigContext): unknown;
}

export interface Spec {
  documentationUrl: string;
  connectionSpecification: JsonObject;
}

export function loadSpec(): Spec {
  return readJsonResource<Spec>('spec.json');
}

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(spec: Spec, raw: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addFormat('date', isValidDay);
    validator = ajv.compile(spec.connectionSpecification);
  }
  return validator(raw) ? [] : (validator.errors ?? []);
}

/** `/onesignal/apps/0/app_id` -> `onesignal.apps[0].app_id` */
function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (child) parts.push(child);
  return (
    parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || 'config'
  );
}

const TYPE_WORDS: Record<string, string> = {
  array: 'a list',
  object: 'an object',
  integer: 'an integer',
};

/** `show` says what the message may tell of the value. */
function describe(err: ErrorObject, show: (value: unknown) => string): string {
  const field = fieldPath(err.instancePath);
  const got = show(err.data);
  switch (err.keyword) {
    case 'required':
      return `${fieldPath(err.instancePath, (err.params as { missingProperty: string }).missingProperty)} is required`;
    case 'type': {
      const type = (err.params as { type: string }).type;
      return `${field} must be ${TYPE_WORDS[type] ?? `a ${type}`}, got ${got}`;
    }
    case 'pattern': {
      const descriptor = (err.parentSchema as { pattern_descriptor?: string } | undefined)
        ?.pattern_descriptor;
      return `${field} must be ${descriptor ?? `like ${(err.params as { pattern: string }).pattern}`} (got ${got})`;
    }
    case 'format':
      return `${field} must be a real date written YYYY-MM-DD (got ${got})`;
    case 'minLength':
      return `${field} is too short to be valid`;
    case 'minItems':
      return `${field} must list at least ${(err.params as { limit: number }).limit} item(s)`;
    default:
      return `${field} ${err.message ?? 'is invalid'} (got ${got})`;
  }
}

/** Whether an error must not show its value: it is at or under a secret field. */
function isSecret(err: ErrorObject, secretFields: Set<string>): boolean {
  if ((err.parentSchema as { airbyte_secret?: boolean } | undefined)?.airbyte_secret) return true;
  return err.instancePath.split('/').some((part) => secretFields.has(part));
}

/** `show` says what a message may tell of a value (see `parseConfig`). */
function checkApiUrl(
  field: string,
  value: unknown,
  fallback: string,
  problems: string[],
  show: (value: unknown) => string,
): string {
  // Another type is reported by the schema.
  if (typeof value !== 'string' || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${field} is not a valid URL (got ${show(value)})`);
    return fallback;
  }
  // The host as written, as the spec's pattern sees it: URL would turn 127.1 into 127.0.0.1, and
  // takes https:host without the slashes.
  const written = /^[a-z]+:\/\/([^/?#]*)/i.exec(value)?.[1].replace(/:\d*$/, '').toLowerCase();
  if (
    written === undefined ||
    (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(written)))
  ) {
    problems.push(
      `${field} must use https:// (http:// is allowed only for a loopback host) (got ${show(value)})`,
    );
  }
  return value.replace(/\/+$/, '');
}

/**
 * Validates a raw config against the spec, then the rules a schema cannot say, and fills in
 * defaults; each of `providers` parses its own block. Every problem is reported at once, each
 * naming its field. `C` is the shared part and the providers' blocks (the source's `Config`).
 */
export function parseConfigWith<C extends SharedConfig>(
  raw: unknown,
  providers: readonly BlockParser[],
  spec: Spec = loadSpec(),
): C {
  if (!isObject(raw)) {
    throw configError('The configuration must be a JSON object.');
  }
  const schema = spec.connectionSpecification;
  const secretFields = secretFieldNames(schema);
  // A secret too short to be redacted could hide in any value shown: then none is shown.
  const hideAll = secretsOf(schema, raw).some(
    (s) => s.length > 0 && s.length < MIN_REDACTED_LENGTH,
  );
  const show = hideAll ? kindOf : shown;
  const problems = validate(spec, raw)
    // An api_url off the spec's pattern is reported by checkApiUrl, in its own words.
    .filter(
      (e) => e.keyword !== 'if' && !(e.keyword === 'pattern' && /\/api_url$/.test(e.instancePath)),
    )
    .map((e) => describe(e, isSecret(e, secretFields) ? kindOf : show));
  const c = raw as Record<string, unknown> & Partial<SharedConfig>;
  if (!providers.some((p) => c[p.key])) {
    const keys = providers.map((p) => p.key);
    problems.push(
      `at least one provider must be configured: ${keys.slice(0, -1).join(', ')} or ${keys.at(-1)}`,
    );
  }
  if (typeof c.start_date === 'string' && isValidDay(c.start_date) && c.start_date > todayUtc()) {
    problems.push(`start_date must not be in the future (got ${show(c.start_date)})`);
  }
  const config: SharedConfig = {
    lookback_days: typeof c.lookback_days === 'number' ? c.lookback_days : 3,
    export_poll_max_interval_seconds:
      typeof c.export_poll_max_interval_seconds === 'number'
        ? c.export_poll_max_interval_seconds
        : 60,
    export_timeout_minutes:
      typeof c.export_timeout_minutes === 'number' ? c.export_timeout_minutes : 120,
  };
  if (typeof c.start_date === 'string' && c.start_date !== '') config.start_date = c.start_date;
  const ctx = {
    problems,
    show,
    apiUrl: (field: string, value: unknown, fallback: string) =>
      checkApiUrl(field, value, fallback, problems, show),
  };
  const blocks = config as SharedConfig & Record<string, unknown>;
  for (const provider of providers) {
    const block = c[provider.key];
    if (isObject(block)) blocks[provider.key] = provider.parseConfig(block, ctx);
  }
  if (problems.length) {
    throw configError(`Invalid configuration: ${[...new Set(problems)].join('; ')}.`);
  }
  return config as C;
}
