import { systemError } from '../../airbyte/errors';
import { clip } from '../../airbyte/redact';
import type { JsonObject } from '../../airbyte/protocol';
import { parseTimestamp } from '../../decode';
import type { MessageLogRow } from './api';

const orNull = (v: unknown): string | null =>
  v === undefined || v === null || v === '' ? null : String(v);

/** A getMessageLog row as a record of the stream; the tracking log's own fields are null. */
export function messageLogRecord(row: MessageLogRow, lead: JsonObject): JsonObject {
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
  const id = row.message_id;
  return {
    ...lead,
    timestamp: ts,
    tracking_code: null,
    target_id: null,
    hwid: orNull(row.hwid),
    status: action,
    description: null,
    app_code: orNull(row.application_code),
    payload: null,
    payload_raw: null,
    message_id:
      typeof id === 'number' && Number.isInteger(id)
        ? id
        : typeof id === 'string' && /^\d+$/.test(id)
          ? Number(id)
          : null,
    message_code: orNull(row.message_code),
    campaign_code: orNull(row.campaign_code),
    user_id: orNull(row.user_id),
    platform: orNull(row.platform),
  };
}
