import type { ConfigContext } from '../provider';

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

/** The union of both forms: the single field keeps working, the list adds applications. */
function pushwooshApplications(p: Record<string, unknown>): string[] {
  const list = Array.isArray(p.application_codes) ? (p.application_codes as unknown[]) : [];
  const codes = [p.application_code, ...list].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  return [...new Set(codes)];
}

/** The Pushwoosh block: its applications (both forms), log API and API URL. */
export function parsePushwooshConfig(
  p: Record<string, unknown>,
  ctx: ConfigContext,
): PushwooshConfig {
  const config: PushwooshConfig = {
    ...(p as unknown as PushwooshConfig),
    application_codes: pushwooshApplications(p),
    log_api: p.log_api === 'tracking_log' ? 'tracking_log' : 'message_log',
    api_url: ctx.apiUrl('pushwoosh.api_url', p.api_url, 'https://api.pushwoosh.com'),
  };
  if (!config.application_codes.length) {
    ctx.problems.push(
      'pushwoosh needs an application: set pushwoosh.application_code or list pushwoosh.application_codes',
    );
  }
  return config;
}
