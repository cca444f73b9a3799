import { isObject } from '../../util/json';
import type { ConfigContext } from '../provider';

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
export function parseApnsConfig(a: Record<string, unknown>, ctx: ConfigContext): ApnsConfig {
  const { problems, show } = ctx;
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
    api_url: ctx.apiUrl('apns.api_url', a.api_url, 'https://api.icloud.apple.com'),
  };
}
