import Ajv, { type ErrorObject } from 'ajv';
import { configError } from './airbyte/errors';
import type { JsonObject } from './airbyte/protocol';
import { kindOf, MIN_REDACTED_LENGTH, secretFieldNames, secretsOf, shown } from './airbyte/redact';
import { isLoopbackHost } from './http/urls';
import { readJsonResource } from './resources';
import { isObject } from './util/json';
import { isValidDay, todayUtc } from './util/time';

/** One Apple app: its bundle ID, a Data Export Token per dataset, its broadcast channels. */
export interface ApnsApp {
  bundle_id: string;
  delivery_metrics_token?: string;
  broadcast_app_token?: string;
  broadcast_channel_token?: string;
  channel_ids?: string[];
  /** Where the app is written in the config, for messages: `apns` or `apns.apps[2]`. */
  path: string;
}

/** Both config forms (one app in `apns`, or the list `apns.apps`) as one list of apps. */
export interface ApnsConfig {
  team_id: string;
  apps: ApnsApp[];
  api_url: string;
}

export interface OneSignalConfig {
  /** `account`: apps with the same label share OneSignal's one export slot per account. */
  apps: { app_id: string; api_key: string; account?: string }[];
  api_url: string;
}

export interface PushwooshConfig {
  api_token: string;
  /** The one application of 0.1.0's form; a state saved by 0.1.0 belongs to it. */
  application_code?: string;
  /** Every application to sync: application_code and application_codes, each once, in order. */
  application_codes: string[];
  /** getMessageLog (supported, Custom plans) or the legacy getTrackingLog (deprecated 2022). */
  log_api: 'message_log' | 'tracking_log';
  api_url: string;
}

export interface Config {
  start_date?: string;
  lookback_days: number;
  apns?: ApnsConfig;
  onesignal?: OneSignalConfig;
  pushwoosh?: PushwooshConfig;
  export_poll_max_interval_seconds: number;
  export_timeout_minutes: number;
}

export interface Spec {
  documentationUrl: string;
  connectionSpecification: JsonObject;
}

export function loadSpec(): Spec {
  return readJsonResource<Spec>('spec.json');
}

const DEFAULT_URLS = {
  apns: 'https://api.icloud.apple.com',
  onesignal: 'https://api.onesignal.com',
  pushwoosh: 'https://api.pushwoosh.com',
};

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
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push(
      `${field} must use https:// (http:// is allowed only for a loopback host) (got ${show(value)})`,
    );
  }
  return value.replace(/\/+$/, '');
}

/** The union of both forms: the single field keeps working, the list adds applications. */
function pushwooshApplications(p: Record<string, unknown>): string[] {
  const list = Array.isArray(p.application_codes) ? (p.application_codes as unknown[]) : [];
  const codes = [p.application_code, ...list].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  return [...new Set(codes)];
}

/** The fields of the single-app form, beside `team_id` and `api_url`. */
const APNS_APP_FIELDS = [
  'bundle_id',
  'delivery_metrics_token',
  'broadcast_app_token',
  'broadcast_channel_token',
  'channel_ids',
] as const;

/** Set and not empty: a form may send an untouched field as `""` or `[]`. */
const isSet = (v: unknown) => v !== undefined && v !== '' && !(Array.isArray(v) && !v.length);

/** An app's own fields (the schema has checked their types), and where it is written. */
const apnsApp = (raw: unknown, path: string): ApnsApp => {
  const o = isObject(raw) ? raw : {};
  const fields = APNS_APP_FIELDS.filter((f) => o[f] !== undefined).map((f) => [f, o[f]]);
  return { ...Object.fromEntries(fields), path } as ApnsApp;
};

/** The apps of either form, with the problems a schema cannot say. */
function apnsConfig(
  a: Record<string, unknown>,
  problems: string[],
  show: (value: unknown) => string,
): ApnsConfig {
  const single = APNS_APP_FIELDS.filter((f) => isSet(a[f]));
  let apps: ApnsApp[];
  if (a.apps === undefined) {
    if (!isSet(a.bundle_id))
      problems.push('apns.bundle_id is required (or list apps in apns.apps)');
    apps = [apnsApp(a, 'apns')];
  } else {
    if (single.length) {
      problems.push(
        `apns has both apps (apns.apps) and single-app fields (${single.map((f) => `apns.${f}`).join(', ')}); use one form: every app in apns.apps, or one app in apns.bundle_id and its tokens`,
      );
    }
    const list = Array.isArray(a.apps) ? a.apps : [];
    apps = list.map((app: unknown, i) => apnsApp(app, `apns.apps[${i}]`));
  }
  // The state keeps a cursor per bundle ID.
  const pathOf = new Map<string, string>();
  for (const app of apps) {
    if (!app.delivery_metrics_token && !app.broadcast_app_token && !app.broadcast_channel_token) {
      problems.push(
        `${app.path} needs at least one token: delivery_metrics_token, broadcast_app_token or broadcast_channel_token`,
      );
    }
    const first = pathOf.get(app.bundle_id);
    if (first) {
      problems.push(
        `${app.path}.bundle_id repeats ${first}.bundle_id (got ${show(app.bundle_id)}): list each app once`,
      );
    } else if (isSet(app.bundle_id)) pathOf.set(app.bundle_id, app.path);
  }
  return {
    team_id: a.team_id as string,
    apps,
    api_url: checkApiUrl('apns.api_url', a.api_url, DEFAULT_URLS.apns, problems, show),
  };
}

/**
 * Validates a raw config against the spec, then the rules a schema cannot say, and fills in
 * defaults. Every problem is reported at once, each naming its field.
 */
export function parseConfig(raw: unknown, spec: Spec = loadSpec()): Config {
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
    .filter((e) => e.keyword !== 'if')
    .map((e) => describe(e, isSecret(e, secretFields) ? kindOf : show));
  const c = raw as Record<string, unknown> & Partial<Config>;
  if (!c.apns && !c.onesignal && !c.pushwoosh) {
    problems.push('at least one provider must be configured: apns, onesignal or pushwoosh');
  }
  if (typeof c.start_date === 'string' && isValidDay(c.start_date) && c.start_date > todayUtc()) {
    problems.push(`start_date must not be in the future (got ${show(c.start_date)})`);
  }
  const config: Config = {
    lookback_days: typeof c.lookback_days === 'number' ? c.lookback_days : 3,
    export_poll_max_interval_seconds:
      typeof c.export_poll_max_interval_seconds === 'number'
        ? c.export_poll_max_interval_seconds
        : 60,
    export_timeout_minutes:
      typeof c.export_timeout_minutes === 'number' ? c.export_timeout_minutes : 120,
  };
  if (typeof c.start_date === 'string' && c.start_date !== '') config.start_date = c.start_date;
  if (isObject(c.apns)) config.apns = apnsConfig(c.apns, problems, show);
  if (isObject(c.onesignal)) {
    const o = c.onesignal;
    config.onesignal = {
      ...o,
      api_url: checkApiUrl('onesignal.api_url', o.api_url, DEFAULT_URLS.onesignal, problems, show),
    };
  }
  if (isObject(c.pushwoosh)) {
    const p = c.pushwoosh;
    config.pushwoosh = {
      ...p,
      application_codes: pushwooshApplications(p),
      log_api: p.log_api === 'tracking_log' ? 'tracking_log' : 'message_log',
      api_url: checkApiUrl('pushwoosh.api_url', p.api_url, DEFAULT_URLS.pushwoosh, problems, show),
    };
    if (!config.pushwoosh.application_codes.length) {
      problems.push(
        'pushwoosh needs an application: set pushwoosh.application_code or list pushwoosh.application_codes',
      );
    }
  }
  if (problems.length) {
    throw configError(`Invalid configuration: ${[...new Set(problems)].join('; ')}.`);
  }
  return config;
}
