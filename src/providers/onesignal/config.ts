import type { ConfigContext } from '../provider';

export interface OneSignalConfig {
  /** `account`: apps with the same label share OneSignal's one export slot per account. */
  apps: { app_id: string; api_key: string; account?: string }[];
  api_url: string;
}

/** The OneSignal block: its apps as given (the schema has checked them), and its API URL. */
export function parseOneSignalConfig(
  o: Record<string, unknown>,
  ctx: ConfigContext,
): OneSignalConfig {
  return {
    ...(o as unknown as OneSignalConfig),
    api_url: ctx.apiUrl('onesignal.api_url', o.api_url, 'https://api.onesignal.com'),
  };
}
