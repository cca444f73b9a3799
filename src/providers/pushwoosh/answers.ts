import { snippet } from '../../http/client';
import { answerField, httpLink } from '../../http/unknown-answers';

/**
 * What Pushwoosh's texts mean (docs/research/pushwoosh.md, "What the connector accepts"). AUTH and
 * FINAL are final; PENDING and FAILED_STATE name a job's state; any other getResults answer
 * without a file link also means not ready yet, until the export timeout.
 */
export const AUTH =
  /access denied|unauthori[sz]ed|invalid (?:api )?token|forbid|token restrictions|(?:account|application) not found|token (?:has )?expired|expired token/i;
const FINAL =
  /\brequest\b.*\b(?:not found|does not exist|unknown|expired)\b|\b(?:unknown|invalid|no such) request|request_?id is required|malformed/i;
const PENDING =
  /not ready|pending|process|in[ _-]?progress|queued|not finished|running|wait|preparing|generating/i;
const FAILED_STATE = /^(?:failed|failure|error|cancell?ed)$/i;
/** Where getResults may put the file link, and getMessageLog its rows and next-page token. */
const FILE_FIELDS = ['fileName', 'file_name', 'fileUrl', 'file_url', 'url', 'link'];
export const ROW_LISTS = ['result', 'rows', 'items', 'data'];
export const NEXT_TOKENS = [
  'pagination_token',
  'paginationToken',
  'next_token',
  'nextToken',
  'next',
];
const TIME_FIELDS = ['timestamp', 'datetime', 'created_at', 'createdAt', 'time', 'date'];

export interface MessageLogRow {
  timestamp?: unknown;
  message_id?: unknown;
  message_code?: unknown;
  campaign_code?: unknown;
  application_code?: unknown;
  hwid?: unknown;
  user_id?: unknown;
  platform?: unknown;
  action?: unknown;
  [key: string]: unknown;
}

/** The texts of an answer: its status message and error, or the body itself. */
export function textOf(body: unknown): string {
  if (typeof body === 'string') return body;
  const error = answerField(body, 'error');
  return [
    answerField(body, 'status_message', 'statusMessage', 'message'),
    error,
    answerField(error, 'message'),
  ]
    .filter((t): t is string => typeof t === 'string' && t !== '')
    .join('; ');
}

export function jsonOrText(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A body's status_code as a number, also when it is sent as a string. */
export function statusCodeOf(body: unknown): number | undefined {
  const code = answerField(body, 'status_code', 'statusCode');
  const n = typeof code === 'string' && /^\d+$/.test(code.trim()) ? Number(code) : code;
  return typeof n === 'number' ? n : undefined;
}

/** The first of `names` found in the first container that has one. */
export function lookup(containers: unknown[], names: string[]): unknown {
  for (const c of containers) {
    const v = answerField(c, ...names);
    if (v !== undefined) return v;
  }
  return undefined;
}

export type ResultsAnswer =
  | { kind: 'ready'; url: string }
  | { kind: 'pending'; recognised: boolean }
  | { kind: 'failed'; state: string }
  | { kind: 'auth'; detail: string }
  | { kind: 'final'; status: number; message: string }
  | { kind: 'rejected'; code: number; message: string };

/**
 * A body `status_code` that is a final error: 210 is Pushwoosh's argument error (sent with HTTP
 * 200), 4xx a refused request. 0, 1xx, 202 and 5xx are left to the export timeout: not errors
 * of the request, or ones that a later poll may not meet.
 */
function isRejection(code: number | undefined): code is number {
  return code === 210 || (code !== undefined && code >= 400 && code <= 499);
}

/**
 * Reads a getResults answer. Pushwoosh does not document what it answers while the job runs, so
 * only a file link, a rejected token and an unknown request are taken as such; a job state of
 * failed restarts the export; anything else is "not ready yet" (`recognised` when it says so).
 */
export function readResults(status: number, body: unknown, apiUrl: string): ResultsAnswer {
  const text = textOf(body);
  if (status === 401 || status === 403 || AUTH.test(text))
    return { kind: 'auth', detail: `HTTP ${status}: ${text || snippet(body, 200)}` };
  if (FINAL.test(text) || ((status < 200 || status > 299) && !PENDING.test(text)))
    return { kind: 'final', status, message: text || snippet(body, 200) };
  const response = answerField(body, 'response');
  const link = lookup([response, body], FILE_FIELDS);
  const url = httpLink(link, apiUrl);
  if (url) return { kind: 'ready', url };
  const states = [answerField(body, 'status'), answerField(response, 'status')].filter(
    (s): s is string => typeof s === 'string',
  );
  const failed = states.find((s) => FAILED_STATE.test(s));
  if (failed) return { kind: 'failed', state: failed };
  const unusableLink = link !== undefined && link !== null && link !== '';
  const saysPending = PENDING.test([text, ...states].join(' '));
  // An argument error does not go away by waiting; a 210 that says "not ready" is a wait.
  const code = statusCodeOf(body);
  if (!saysPending && isRejection(code))
    return { kind: 'rejected', code, message: text || snippet(body, 200) };
  return { kind: 'pending', recognised: !unusableLink && saysPending };
}

/** Unix seconds or milliseconds become ISO; the rest is left for the stream to parse (or name). */
function instant(v: unknown): unknown {
  if (typeof v !== 'number') return v;
  const d = new Date(Math.abs(v) < 1e11 ? v * 1000 : v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

/** A getMessageLog row under the field names the stream reads (the row format is undocumented). */
export function normalizeMessageLogRow(row: unknown): MessageLogRow {
  return {
    timestamp: instant(answerField(row, ...TIME_FIELDS)),
    message_id: answerField(row, 'message_id', 'messageId'),
    message_code: answerField(row, 'message_code', 'messageCode'),
    campaign_code: answerField(row, 'campaign_code', 'campaignCode'),
    application_code: answerField(
      row,
      'application_code',
      'applicationCode',
      'app_code',
      'appCode',
    ),
    hwid: answerField(row, 'hwid'),
    user_id: answerField(row, 'user_id', 'userId'),
    platform: answerField(row, 'platform'),
    action: answerField(row, 'action', 'event', 'status'),
  };
}
