import { systemError } from '../../airbyte/errors';
import { clip } from '../../airbyte/redact';
import type { JsonObject } from '../../airbyte/protocol';
import { parseTimestamp } from '../../decode';
import type { MessageLogRow } from './api';

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
 * timestamp) is never null: a row without time or action is an error, a missing hwid is "".
 */
export function messageLogRecord(row: MessageLogRow, application: string): JsonObject {
  const ts = parseTimestamp(String(row.timestamp ?? ''), 'timestamp');
  if (ts === null)
    throw systemError(
      `Pushwoosh getMessageLog gave a row without a timestamp: ${clip(JSON.stringify(row), 200)}`,
    );
  const action = orNull(row.action);
  if (action === null)
    throw systemError(
      `Pushwoosh getMessageLog gave a row without an action: ${clip(JSON.stringify(row), 200)}`,
    );
  const messageId = integerOrNull(row.message_id);
  return {
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
}
