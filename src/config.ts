import Ajv, { type ErrorObject } from 'ajv';
import { configError } from './airbyte/errors';
import type { JsonObject } from './airbyte/protocol';
import { isLoopbackHost } from './http/urls';
import { readJsonResource } from './resources';
import { isValidDay, todayUtc } from './util/time';

export interface ApnsConfig {
  team_id: string;
  bundle_id: string;
  delivery_metrics_token?: string;
  broadcast_app_token?: string;
  broadcast_channel_token?: string;
  channel_ids?: string[];
  api_url: string;
}

export interface OneSignalConfig {
  apps: { app_id: string; api_key: string }[];
  api_url: string;
}

export interface PushwooshConfig {
  api_token: string;
  application_code: string;
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

function describe(err: ErrorObject, secret: boolean): string {
  const field = fieldPath(err.instancePath);
  const shown = secret ? '' : ` (got ${JSON.stringify(err.data)})`;
  switch (err.keyword) {
    case 'required':
      return `${fieldPath(err.instancePath, (err.params as { missingProperty: string }).missingProperty)} is required`;
    case 'type':
      return `${field} must be ${(err.params as { type: string }).type}${shown}`;
    case 'pattern': {
      const descriptor = (err.parentSchema as { pattern_descriptor?: string } | undefined)
        ?.pattern_descriptor;
      return `${field} must be ${descriptor ?? `like ${(err.params as { pattern: string }).pattern}`}${shown}`;
    }
    case 'format':
      return `${field} must be a real date written YYYY-MM-DD${shown}`;
    case 'minLength':
      return `${field} is too short to be valid`;
    case 'minItems':
      return `${field} must list at least ${(err.params as { limit: number }).limit} item(s)`;
    default:
      return `${field} ${err.message ?? 'is invalid'}${shown}`;
  }
}

function checkApiUrl(
  field: string,
  value: string | undefined,
  fallback: string,
  problems: string[],
): string {
  if (value === undefined || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${field} is not a valid URL (got ${JSON.stringify(value)})`);
    return fallback;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push(
      `${field} must use https:// (http:// is allowed only for a loopback host) (got ${JSON.stringify(value)})`,
    );
  }
  return value.replace(/\/+$/, '');
}

/**
 * Validates a raw config against the spec, then the rules a schema cannot say, and fills in
 * defaults. Every problem is reported at once, each naming its field.
 */
export function parseConfig(raw: unknown, spec: Spec = loadSpec()): Config {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError('The configuration must be a JSON object.');
  }
  const errors = validate(spec, raw);
  const problems = errors
    .filter((e) => e.keyword !== 'if')
    .map((e) =>
      describe(
        e,
        (e.parentSchema as { airbyte_secret?: boolean } | undefined)?.airbyte_secret === true,
      ),
    );
  const c = raw as Record<string, unknown> & Partial<Config>;
  if (!c.apns && !c.onesignal && !c.pushwoosh) {
    problems.push('at least one provider must be configured: apns, onesignal or pushwoosh');
  }
  if (typeof c.start_date === 'string' && isValidDay(c.start_date) && c.start_date > todayUtc()) {
    problems.push(`start_date must not be in the future (got ${JSON.stringify(c.start_date)})`);
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
  if (c.apns && typeof c.apns === 'object') {
    const a = c.apns;
    config.apns = {
      ...a,
      api_url: checkApiUrl('apns.api_url', a.api_url, DEFAULT_URLS.apns, problems),
    };
    if (!a.delivery_metrics_token && !a.broadcast_app_token && !a.broadcast_channel_token) {
      problems.push(
        'apns needs at least one token: delivery_metrics_token, broadcast_app_token or broadcast_channel_token',
      );
    }
  }
  if (c.onesignal && typeof c.onesignal === 'object') {
    const o = c.onesignal;
    config.onesignal = {
      ...o,
      api_url: checkApiUrl('onesignal.api_url', o.api_url, DEFAULT_URLS.onesignal, problems),
    };
  }
  if (c.pushwoosh && typeof c.pushwoosh === 'object') {
    const p = c.pushwoosh;
    config.pushwoosh = {
      ...p,
      log_api: p.log_api === 'tracking_log' ? 'tracking_log' : 'message_log',
      api_url: checkApiUrl('pushwoosh.api_url', p.api_url, DEFAULT_URLS.pushwoosh, problems),
    };
  }
  if (problems.length) {
    throw configError(`Invalid configuration: ${[...new Set(problems)].join('; ')}.`);
  }
  return config;
}
