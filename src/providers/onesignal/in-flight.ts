/**
 * The state note of an app's export in flight. OneSignal lets an account run one export, and
 * only a download of its file (or its expiry, 3 days later) frees the slot: a sync stopped
 * mid-export would block the next one. So the file URL is checkpointed as soon as the export is
 * requested, and the next sync downloads that file instead of requesting another.
 */
export const IN_FLIGHT = 'export_in_flight';
export interface InFlight {
  message_id: string;
  /** The file URL with the App ID (a secret, redacted from states) written `{app_id}`. */
  file: string;
  requested_at: string;
}

export const isInFlight = (v: unknown): v is InFlight => {
  const n = v as Partial<InFlight> | undefined;
  return (
    typeof n?.message_id === 'string' &&
    typeof n.file === 'string' &&
    typeof n.requested_at === 'string' &&
    Number.isFinite(Date.parse(n.requested_at))
  );
};

/** The note of an export just requested; the App ID is written `{app_id}` in its file URL. */
export function inFlightNote(messageId: string, url: string, appId: string, now: number): InFlight {
  return {
    message_id: messageId,
    file: url.split(appId).join('{app_id}'),
    requested_at: new Date(now).toISOString(),
  };
}

/** The file URL of a note, with the App ID put back. */
export const inFlightUrl = (note: InFlight, appId: string) =>
  note.file.split('{app_id}').join(appId);
