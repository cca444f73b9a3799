import { systemError } from '../../airbyte/errors';
import type { JsonObject } from '../../airbyte/protocol';
import { DecodeError, parseTimestamp } from '../../decode';
import type { MessageLogRow } from './answers';

const orNull = (v: unknown): string | null =>
  v === undefined || v === null || v === '' ? null : String(v);

const integerOrNull = (v: unknown): number | null =>
  typeof v === 'number' && Number.isInteger(v)
    ? v
    : typeof v === 'string' && /^\d+$/.test(v)
      ? Number(v)
      : null;

/** The application a row belongs to: its own field, else the one the query was filtered by. */
export function rowApplication(row: MessageLogRow, requested: string): string {
  return orNull(row.application_code) ?? requested;
}

/**
 * A message's part of the key, never null: its code; without one, `id:<message_id>` (Pushwoosh
 * codes never look like that), or "" when the row has neither.
 */
function messageKey(code: string | null, id: number | null): string {
  return code ?? (id !== null ? `id:${id}` : '');
}

/**
 * A getMessageLog row as a record of the stream, of `application` (see rowApplication); the
 * tracking log's own fields are null. The key (application_code, message_code, hwid, status,
 * timestamp) is never null but for a time that cannot be read: that one is null and listed in
 * `nulled` (for the record's meta.changes), as any value that cannot be converted. A row without
 * an action is an error; a missing hwid is "".
 */
export function messageLogRecord(
  row: MessageLogRow,
  application: string,
): { record: JsonObject; nulled: string[]; problems: string[] } {
  const nulled: string[] = [];
  const problems: string[] = [];
  let ts: string | null = null;
  try {
    ts = parseTimestamp(String(row.timestamp ?? ''), 'timestamp');
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    problems.push(err.message);
  }
  if (ts === null) {
    nulled.push('timestamp');
    if (!problems.length) problems.push('the row has no time');
  }
  const action = orNull(row.action);
  // The row is not quoted: it holds device and user ids.
  if (action === null) throw systemError('Pushwoosh getMessageLog gave a row without an action.');
  const messageId = integerOrNull(row.message_id);
  const record = {
    application_code: application,
    timestamp: ts,
    tracking_code: null,
    target_id: null,
    hwid: orNull(row.hwid) ?? '',
    status: action,
    description: null,
    app_code: application,
    payload: null,
    payload_raw: null,
    message_id: messageId,
    message_code: messageKey(orNull(row.message_code), messageId),
    campaign_code: orNull(row.campaign_code),
    user_id: orNull(row.user_id),
    platform: orNull(row.platform),
  };
  return { record, nulled, problems };
}
