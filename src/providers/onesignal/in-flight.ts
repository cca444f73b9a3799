import { createHash } from 'node:crypto';
import type { JsonObject } from '../../airbyte/protocol';

/**
 * OneSignal lets an account run one export, and only a download of its file (or its expiry, 3
 * days later) frees the slot. So every export that may hold an account's slot is kept in the
 * stream's state, under the account (what holds the slot), from its request until its file is
 * downloaded or it is abandoned: the next sync downloads (or drains) those first.
 *
 * `{"exports_in_flight": {"account_<hash>": [{"app": "app_<hash>", "message_id": …,
 * "file": "https://…/{app_id}/….csv.gz" | null, "requested_at": …}]}}`. `file` is null when the
 * request's answer was lost (a 5xx): the export may exist, with a URL nobody knows.
 */
export const EXPORTS_IN_FLIGHT = 'exports_in_flight';
/** 0.2.0's per-app note, read and moved under the account. */
const OLD_IN_FLIGHT = 'export_in_flight';

export interface InFlight {
  /** The app's state key (appKey). */
  app: string;
  message_id: string;
  /** The file URL with the App ID (a secret, redacted from states) written `{app_id}`. */
  file: string | null;
  requested_at: string;
}

/** OneSignal keeps an export's file (and so its hold on the slot) 3 days. */
export const FILE_LIFETIME_MS = 3 * 86_400_000;

/** The state key of an account label (apps without a label share the default account ""). */
export const accountKey = (label: string) =>
  `account_${createHash('sha256').update(label).digest('hex').slice(0, 16)}`;

const isInFlight = (v: unknown): v is InFlight => {
  const n = v as Partial<InFlight> | undefined;
  return (
    typeof n?.app === 'string' &&
    typeof n.message_id === 'string' &&
    (typeof n.file === 'string' || n.file === null) &&
    typeof n.requested_at === 'string' &&
    Number.isFinite(Date.parse(n.requested_at))
  );
};

/** The record of an export; the App ID is written `{app_id}` in its file URL. */
export function inFlightRecord(
  app: string,
  messageId: string,
  url: string | null,
  appId: string,
  requestedAt: number,
): InFlight {
  return {
    app,
    message_id: messageId,
    file: url === null ? null : url.split(appId).join('{app_id}'),
    requested_at: new Date(requestedAt).toISOString(),
  };
}

/** The file URL of a record, with the App ID put back. */
export const inFlightUrl = (r: InFlight, appId: string) =>
  r.file === null ? null : r.file.split('{app_id}').join(appId);

/** Every record of a saved state's group, whatever account key it sits under. */
export function savedRecords(group: JsonObject | undefined): { ok: InFlight[]; bad: number } {
  const ok: InFlight[] = [];
  let bad = 0;
  for (const list of Object.values(group ?? {})) {
    for (const r of Array.isArray(list) ? list : [list]) {
      if (isInFlight(r)) ok.push(r);
      else bad++;
    }
  }
  return { ok, bad };
}

/**
 * Moves 0.2.0's per-app notes (`apps.<key>.export_in_flight`) into the account group; the account
 * key is settled when the sync groups records by their app's account.
 */
export function upgradeInFlight(raw: unknown): unknown {
  const state = raw as { apps?: Record<string, unknown> } | undefined;
  if (!state || typeof state !== 'object' || !state.apps || typeof state.apps !== 'object')
    return raw;
  const moved: JsonObject[] = [];
  const apps: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(state.apps)) {
    const e = entry as Record<string, unknown> | null;
    if (e && typeof e === 'object' && e[OLD_IN_FLIGHT] !== undefined) {
      const { [OLD_IN_FLIGHT]: note, ...rest } = e;
      moved.push({ app: key, ...(note as JsonObject) });
      if (Object.keys(rest).length) apps[key] = rest;
    } else apps[key] = entry;
  }
  if (!moved.length) return raw;
  const group = { ...((raw as Record<string, unknown>)[EXPORTS_IN_FLIGHT] as JsonObject) };
  group.upgraded = [...((group.upgraded as JsonObject[] | undefined) ?? []), ...moved];
  return { ...(raw as object), apps, [EXPORTS_IN_FLIGHT]: group };
}
