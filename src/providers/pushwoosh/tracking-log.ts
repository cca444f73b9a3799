import { DecodeError, parseTimestamp } from '../../decode';
import { as, field, type FieldMap, RecordMapping } from '../../decode/records';

/** The stream's fields that only getMessageLog has are null for tracking-log rows. */
export const MESSAGE_LOG_ONLY = {
  message_id: null,
  message_code: null,
  campaign_code: null,
  user_id: null,
  platform: null,
};

/**
 * Parses a payload. One that is not JSON is kept, not dropped: `payload` is null and
 * `payload_raw` holds the text as Pushwoosh wrote it.
 */
export function parsePayload(raw: string | undefined): {
  payload: unknown;
  payload_raw: string | null;
  bad: boolean;
} {
  if (raw === undefined || raw === '') return { payload: null, payload_raw: null, bad: false };
  try {
    return { payload: JSON.parse(raw), payload_raw: null, bad: false };
  } catch {
    return { payload: null, payload_raw: raw, bad: true };
  }
}

/**
 * The row's own application: the tracking log covers the whole account. `app_code` repeats it,
 * as 0.1.0 wrote it beside the configured code.
 */
const application: FieldMap = {
  header: 'appCode',
  required: true,
  fields: ['application_code', 'app_code'],
  fragment(raw) {
    const code = as.text(raw, 'appCode');
    return `"application_code":${code},"app_code":${code}`;
  },
};

/**
 * The tracking log's `;` CSV; `onBadPayload` counts payloads kept as text. Key parts are never
 * null: their columns are required, and an empty cell is "".
 */
export function trackingLogMapping(onBadPayload: () => void = () => {}): RecordMapping {
  const payload: FieldMap = {
    header: 'payload',
    fields: ['payload', 'payload_raw'],
    fragment(raw) {
      const p = parsePayload(raw);
      if (p.bad) onBadPayload();
      return `"payload":${JSON.stringify(p.payload)},"payload_raw":${JSON.stringify(p.payload_raw)}`;
    },
  };
  return new RecordMapping([
    application,
    field('timestamp', 'timestamp', requiredTimestamp, { required: true }),
    field('tracking_code', 'tracking_code', as.text, { required: true }),
    field('target_id', 'target_id', as.textOrNull),
    field('hwid', 'hwid', as.text, { required: true }),
    field('status', 'status', as.text, { required: true }),
    field('description', 'description', as.textOrNull),
    payload,
  ]);
}

/**
 * A timestamp is part of the primary key, so an empty one is a value that cannot be converted
 * too: like an unreadable one, it is synced as null and marked in the record's meta.changes.
 */
function requiredTimestamp(raw: string | undefined, column: string): string {
  const t = parseTimestamp(raw ?? '', column);
  if (t === null)
    throw new DecodeError(
      `column ${JSON.stringify(column)}: expected a timestamp, and it is empty`,
    );
  return `"${t}"`;
}
