import { createHash, randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { addDays, dayOf, isValidDay } from '../../src/util/time';
import { routeMatches } from '../core/faults';
import {
  pickVariant,
  type EmulatorContext,
  type RouteMatch,
  type RouteModule,
} from '../core/routing';
import type { EmuRequest, EmuResponse, MalformedZipVariant, Origin } from '../core/types';
import { FOREIGN_TEXT } from '../core/types';
import { makeZip, patchEntry } from '../zip';

/**
 * Pushwoosh, as its documentation describes it (see docs/research/pushwoosh.md for sources and
 * for which behaviours are documented and which are the emulator's own choices):
 *
 * - `POST /json/1.3/getTrackingLog` + `POST /json/1.3/getResults` + a ZIP on the files origin
 *   (the deprecated push tracking log: `;`-separated CSV, `//`-prefixed header);
 * - `POST /api/v2/statistics/getMessageLog` and `POST /json/1.3/getMessageLog` (JSON rows,
 *   `pagination_token` paging, at most 30 days per query, Custom plan only).
 */

export interface PushwooshAccountFixture {
  /** Server API access token (body `auth`, or `Authorization: Token …` on /api/v2). */
  apiToken: string;
  /** Application code, `XXXXX-XXXXX`. */
  applicationCode: string;
  /**
   * The account's other applications: the tracking log (which takes no application) holds their
   * rows too, and getMessageLog serves them by its `application_code` filter.
   */
  moreApplicationCodes?: string[];
  /** false: getMessageLog answers as for an account without the Custom plan. */
  messageLogEnabled: boolean;
}

export const PUSHWOOSH_TRACKING_HEADER =
  '//timestamp;tracking_code;target_id;hwid;status;description;appCode;payload';
export const PUSHWOOSH_TRACKING_ENTRY = 'tracking_log.csv';
export const PUSHWOOSH_STATUSES = ['created', 'sent', 'delivered', 'failed', 'opened'] as const;
/** The tracking statuses that getMessageLog reports (its documented `actions` minus inbox ones). */
export const PUSHWOOSH_MESSAGE_LOG_ACTIONS = ['sent', 'delivered', 'opened'] as const;
/** Every `actions` filter value the documentation lists. */
export const PUSHWOOSH_DOCUMENTED_ACTIONS = [
  'sent',
  'delivered',
  'opened',
  'inbox_delivered',
  'inbox_read',
  'inbox_opened',
  'inbox_deleted',
] as const;
/** Every `platforms` filter value the documentation lists. */
export const PUSHWOOSH_DOCUMENTED_PLATFORMS = [
  'ios',
  'blackberry',
  'android',
  'windows phone',
  'osx',
  'windows',
  'amazon',
  'safari',
  'chrome',
  'firefox',
  'ie',
  'email',
  'baidu android',
  'huawei android',
] as const;

/** getMessageLog is served on both paths that public clients use (see the research note). */
export const PUSHWOOSH_MESSAGE_LOG_PATHS = [
  '/api/v2/statistics/getMessageLog',
  '/json/1.3/getMessageLog',
] as const;
export const PUSHWOOSH_MESSAGE_LOG_MAX_LIMIT = 100000;
export const PUSHWOOSH_MESSAGE_LOG_DEFAULT_LIMIT = 1000;
/** The tracking log covers today and the 13 days before it (UTC). */
export const PUSHWOOSH_TRACKING_DAYS = 14;

// Status messages. The pending and invalid-token answers are not documented by Pushwoosh: these
// are the emulator's choices (status_code 210, HTTP 200), told apart from each other by message.
export const PUSHWOOSH_PENDING_MESSAGE = 'Request is not ready yet';
export const PUSHWOOSH_ACCESS_DENIED_MESSAGE = 'Access denied or application not found';
export const PUSHWOOSH_MALFORMED_MESSAGE = 'Malformed request string';
export const PUSHWOOSH_DEFAULT_ARGUMENT_ERROR = 'Argument error';
export const PUSHWOOSH_INTERVAL_ERROR = 'exceeded the maximum date interval. Max interval: 30 days';
export const PUSHWOOSH_ACCOUNT_NOT_FOUND = 'account not found';
export const PUSHWOOSH_NOT_CUSTOM_PLAN =
  'access denied: getMessageLog is available for Custom plan subscriptions only';

/** Every application of an account, its first one first. */
export function pushwooshApplications(account: PushwooshAccountFixture): string[] {
  return [account.applicationCode, ...(account.moreApplicationCodes ?? [])];
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: every value is a pure function of (application code, day, row index).

function digest(...parts: (string | number)[]): Buffer {
  return createHash('sha256').update(parts.join('\u001f')).digest();
}

function hash(...parts: (string | number)[]): number {
  return digest(...parts).readUInt32BE(0);
}

function hex(len: number, ...parts: (string | number)[]): string {
  return digest(...parts)
    .toString('hex')
    .slice(0, len)
    .toUpperCase();
}

interface Device {
  hwid: string;
  platform: string;
  pushToken: string;
  userId: string | null;
}

interface Message {
  id: number;
  code: string;
  campaign: string | null;
  text: string;
}

const DEVICES_PER_APP = 24;
const DAY_MS = 86_400_000;
const PLATFORM_WEIGHTS: [string, number][] = [
  ['ios', 45],
  ['android', 38],
  ['huawei android', 5],
  ['chrome', 6],
  ['safari', 3],
  ['firefox', 3],
];
const ALERTS = [
  'Your order has shipped',
  'Flash sale: 20% off today only',
  'New message from Ana',
  'Ваш заказ готов к выдаче',
  'Daily digest is ready',
  'Reminder: your cart is waiting',
  '¡Oferta especial para ti!',
];
const FAILURES = [
  'NotRegistered',
  'BadDeviceToken',
  'Unregistered: device token is no longer active',
  'InvalidRegistration; token removed from the audience',
  'MismatchSenderId',
];

function pick<T>(weights: [T, number][], n: number): T {
  const total = weights.reduce((s, [, w]) => s + w, 0);
  let r = n % total;
  for (const [v, w] of weights) {
    if (r < w) return v;
    r -= w;
  }
  return weights[0][0];
}

function uuid(...parts: (string | number)[]): string {
  const h = hex(32, ...parts);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function device(app: string, n: number): Device {
  const platform = pick(PLATFORM_WEIGHTS, hash('pw-platform', app, n));
  const tokenSeed = digest('pw-push-token', app, n);
  const pushToken =
    platform === 'ios' || platform === 'safari'
      ? tokenSeed.toString('hex')
      : `${tokenSeed.subarray(0, 8).toString('base64url')}:APA91b${tokenSeed.subarray(8).toString('base64url')}`;
  const userId =
    hash('pw-user', app, n) % 3 === 0 ? null : `user_${String(n + 1).padStart(5, '0')}`;
  return { hwid: uuid('pw-hwid', app, n), platform, pushToken, userId };
}

function messagesOf(app: string, day: string): Message[] {
  const count = 3 + (hash('pw-messages', app, day) % 4);
  const out: Message[] = [];
  for (let m = 0; m < count; m++) {
    const code = `${hex(4, 'pw-mc1', app, day, m)}-${hex(8, 'pw-mc2', app, day, m)}-${hex(8, 'pw-mc3', app, day, m)}`;
    out.push({
      id: 10_000_000_000 + (hash('pw-mid', app, day, m) % 90_000_000_000),
      code,
      campaign:
        hash('pw-campaign', app, day, m) % 3 === 0
          ? `${hex(5, 'pw-cc1', app, day, m)}-${hex(5, 'pw-cc2', app, day, m)}`
          : null,
      text: ALERTS[hash('pw-alert', app, day, m) % ALERTS.length],
    });
  }
  return out;
}

/** The one payload of each file with every awkward character: `;`, `"`, a newline, `\`, é, 🎉. */
function awkwardPayload(uid: number): string {
  return (
    '{"aps":{"alert":"Café; \\"VIP\\" deal — 20% off at C:\\\\sale 🎉","badge":1,"sound":""},\n' +
    `"md":{"uid":${uid},"note":"a;b"},"p":"Zh","pw_msg":"1"}`
  );
}

function payloadOf(dev: Device, msg: Message, app: string, day: string, i: number): string {
  const md: Record<string, unknown> = { uid: msg.id };
  if (dev.userId) md.user_id = dev.userId;
  const p = hex(2, 'pw-p', app, day, i);
  if (dev.platform === 'ios' || dev.platform === 'safari') {
    const badge = hash('pw-badge', app, day, i) % 3;
    return JSON.stringify({ aps: { alert: msg.text, badge, sound: '' }, md, p, pw_msg: '1' });
  }
  return JSON.stringify({ header: 'Example app', message: msg.text, md, p, pw_msg: '1' });
}

export interface PushwooshTrackingExpected {
  /** ISO 8601 UTC with milliseconds (microseconds of the older form are truncated). */
  timestamp: string;
  tracking_code: string | null;
  target_id: string | null;
  hwid: string | null;
  status: string;
  description: string | null;
  app_code: string | null;
  /** The parsed JSON payload, or null when the cell is empty. */
  payload: unknown;
}

export interface PushwooshTrackingRow {
  /** The 8 field values as a CSV parser returns them (quotes removed, `""` undoubled). */
  cells: string[];
  expected: PushwooshTrackingExpected;
}

interface Event extends PushwooshTrackingRow {
  app: string;
  index: number;
  ms: number;
  /** Whether the timestamp cell is written quoted (the `"YYYY-MM-DD HH:MM:SS"` form). */
  quotedTimestamp: boolean;
  message: Message;
  device: Device;
}

function pad(n: number, len = 2): string {
  return String(n).padStart(len, '0');
}

/** `2021-04-20 13:01:01` (UTC, whole seconds). */
export function pushwooshDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

// Rows are pure but cost ~20 hashes each; paging through 30 days would redo them every page.
const eventCache = new Map<string, Event[]>();
const EVENT_CACHE_SIZE = 128;

/** Cached: callers must not mutate what they get (the exported functions hand out copies). */
function events(app: string, day: string, count: number): Event[] {
  const key = `${app}\u001f${day}\u001f${count}`;
  let evs = eventCache.get(key);
  if (!evs) {
    evs = computeEvents(app, day, count);
    if (eventCache.size >= EVENT_CACHE_SIZE) eventCache.delete(eventCache.keys().next().value!);
    eventCache.set(key, evs);
  }
  return evs;
}

function computeEvents(app: string, day: string, count: number): Event[] {
  if (!isValidDay(day)) throw new Error(`not a day: ${day}`);
  const start = Date.parse(`${day}T00:00:00Z`);
  const step = DAY_MS / Math.max(count, 1);
  const messages = messagesOf(app, day);
  const awkward = count > 0 ? hash('pw-awkward', app, day) % count : -1;
  const forcedOld = count > 1 ? hash('pw-forced-old', app, day) % count : -1;
  const out: Event[] = [];
  for (let i = 0; i < count; i++) {
    const h = (k: string) => hash(k, app, day, i);
    // One slot of the day per row keeps rows in time order and inside the UTC day.
    const slotStart = Math.ceil(start + i * step);
    const slotEnd = Math.ceil(start + (i + 1) * step);
    const ms = slotStart + (h('pw-offset') % Math.max(slotEnd - slotStart, 1));
    const message = messages[h('pw-msg') % messages.length];
    const dev = device(app, h('pw-dev') % DEVICES_PER_APP);
    const status = pick<string>(
      [
        ['created', 10],
        ['sent', 25],
        ['delivered', 35],
        ['failed', 10],
        ['opened', 20],
      ],
      h('pw-status'),
    );
    const trackingCode = `T-${hex(4, 'pw-tc1', app, message.code, dev.hwid)}-${hex(8, 'pw-tc2', app, message.code, dev.hwid)}-${hex(8, 'pw-tc3', app, message.code, dev.hwid)}`;
    const t = h('pw-target');
    const targetId =
      t % 4 === 0 ? dev.pushToken : t % 7 === 0 && dev.userId ? dev.userId : dev.hwid;
    const description =
      status === 'delivered'
        ? 'Success'
        : status === 'failed'
          ? FAILURES[h('pw-failure') % FAILURES.length]
          : '';
    let payload = '';
    if (i === awkward) payload = awkwardPayload(message.id);
    else if (status !== 'opened' && h('pw-empty-payload') % 9 !== 0) {
      payload = payloadOf(dev, message, app, day, i);
    }
    // The older documented form, `2011-01-01T15:03:01.012345`, on a few rows of each file.
    const old = i === forcedOld || h('pw-old-ts') % 8 === 0;
    const seconds = Math.floor(ms / 1000) * 1000;
    let tsCell: string;
    let iso: string;
    if (old) {
      const micros = h('pw-micros') % 1_000_000;
      tsCell = `${new Date(seconds).toISOString().slice(0, 19)}.${pad(micros, 6)}`;
      iso = new Date(seconds + Math.floor(micros / 1000)).toISOString();
    } else {
      tsCell = pushwooshDateTime(seconds);
      iso = new Date(seconds).toISOString();
    }
    const cells = [tsCell, trackingCode, targetId, dev.hwid, status, description, app, payload];
    out.push({
      app,
      index: i,
      ms: Date.parse(iso),
      quotedTimestamp: !old,
      message,
      device: dev,
      cells,
      expected: {
        timestamp: iso,
        tracking_code: trackingCode,
        target_id: targetId,
        hwid: dev.hwid,
        status,
        description: description === '' ? null : description,
        app_code: app,
        payload: payload === '' ? null : (JSON.parse(payload) as unknown),
      },
    });
  }
  return out;
}

/** An application's events of a day, or several applications' merged in time order. */
function eventsOf(apps: string | readonly string[], day: string, count: number): Event[] {
  if (typeof apps === 'string') return events(apps, day, count);
  // A stable sort: events at the same instant stay in application order.
  return apps.flatMap((app) => events(app, day, count)).sort((a, b) => a.ms - b.ms);
}

/**
 * The tracking-log rows of one UTC day, in file order: of one application, or of several (an
 * account's file holds every application's rows).
 */
export function pushwooshTrackingRows(
  apps: string | readonly string[],
  day: string,
  count: number,
): PushwooshTrackingRow[] {
  return eventsOf(apps, day, count).map(({ cells, expected }) =>
    structuredClone({ cells, expected }),
  );
}

/** A getMessageLog row as the emulator serves it (field set chosen by the emulator, see note). */
export interface PushwooshMessageLogRow {
  /** `YYYY-MM-DD HH:MM:SS`, UTC. */
  timestamp: string;
  message_id: number;
  message_code: string;
  campaign_code: string | null;
  application_code: string;
  hwid: string;
  user_id: string | null;
  platform: string;
  action: string;
}

export interface PushwooshMessageLogExpected extends Omit<PushwooshMessageLogRow, 'timestamp'> {
  /** ISO 8601 UTC with milliseconds (always `.000`). */
  timestamp: string;
}

export interface PushwooshMessageLogEntry {
  row: PushwooshMessageLogRow;
  expected: PushwooshMessageLogExpected;
  /** Index of the same event among pushwooshTrackingRows(row.application_code, day, count). */
  trackingIndex: number;
}

function messageLogEntry(e: Event): PushwooshMessageLogEntry {
  const seconds = Math.floor(e.ms / 1000) * 1000;
  const row: PushwooshMessageLogRow = {
    timestamp: pushwooshDateTime(seconds),
    message_id: e.message.id,
    message_code: e.message.code,
    campaign_code: e.message.campaign,
    application_code: e.app,
    hwid: e.device.hwid,
    user_id: e.device.userId,
    platform: e.device.platform,
    action: e.expected.status,
  };
  return {
    row,
    expected: { ...row, timestamp: new Date(seconds).toISOString() },
    trackingIndex: e.index,
  };
}

function isMessageLogEvent(e: Event): boolean {
  return (PUSHWOOSH_MESSAGE_LOG_ACTIONS as readonly string[]).includes(e.expected.status);
}

/**
 * The same events as pushwooshTrackingRows (same day, devices, messages) as getMessageLog returns
 * them: only sent/delivered/opened events, timestamps to the second, in time order.
 */
export function pushwooshMessageLogRows(
  apps: string | readonly string[],
  day: string,
  count: number,
): PushwooshMessageLogEntry[] {
  // messageLogEntry builds fresh objects, so nothing cached leaks out.
  return eventsOf(apps, day, count).filter(isMessageLogEvent).map(messageLogEntry);
}

// ---------------------------------------------------------------------------------------------
// The tracking log file.

function csvCell(value: string, forceQuote: boolean): string {
  if (forceQuote || /[;"\r\n]/.test(value)) return `"${value.replace(/"/g, '""')}"`;
  return value;
}

/** Rows whose event lies after `cutoffMs` are not in the file yet (today's log grows). */
function fileEvents(apps: readonly string[], day: string, count: number, cutoffMs: number) {
  return eventsOf(apps, day, count).filter((e) => e.ms <= cutoffMs);
}

export type PushwooshCsvDefect = 'bad_payload' | 'bad_timestamp' | 'bad_timestamps';

/**
 * The CSV inside the ZIP: LF line ends, UTF-8 without BOM, `//` header; the rows of every
 * application in `apps`, in time order. A defect damages a row of the first application.
 */
export function pushwooshTrackingCsv(
  apps: string | readonly string[],
  day: string,
  count: number,
  options: { cutoffMs?: number; defect?: PushwooshCsvDefect } = {},
): string {
  const list = typeof apps === 'string' ? [apps] : apps;
  const evs = fileEvents(list, day, count, options.cutoffMs ?? Infinity);
  const lines = evs.map((e) => {
    const cells = [...e.cells];
    return { e, cells, quoteTs: e.quotedTimestamp };
  });
  const first = lines.filter((l) => l.e.app === list[0]);
  if (options.defect === 'bad_timestamps') {
    // Three rows in four: a format change, not a bad cell.
    lines.forEach((l, i) => {
      if (i % 4 !== 0) {
        l.cells[0] = '20/04/2021';
        l.quoteTs = false;
      }
    });
  } else if (options.defect && first.length > 0) {
    const seed = hash('pw-defect', list[0], day, options.defect);
    if (options.defect === 'bad_timestamp') {
      const l = first[seed % first.length];
      l.cells[0] = '20/04/2021';
      l.quoteTs = false;
    } else {
      // A row that has a payload, other than the awkward one, gets JSON cut short.
      const withPayload = first.filter((l) => l.cells[7] !== '' && !l.cells[7].includes('🎉'));
      const l = (withPayload.length ? withPayload : first)[
        seed % (withPayload.length || first.length)
      ];
      l.cells[7] = '{"aps":{"alert":"Spring sale","badge":0';
    }
  }
  const body = lines.map(({ cells, quoteTs }) =>
    cells.map((c, i) => csvCell(c, (i === 0 && quoteTs) || (i === 7 && c !== ''))).join(';'),
  );
  return [PUSHWOOSH_TRACKING_HEADER, ...body].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The tracking-log ZIP, whole or damaged in one way.

/**
 * A one-entry ZIP of `content`. `truncated_entry` keeps the archive consistent (sizes, offsets)
 * around deflated data cut in half, so only inflating the entry fails; `bad_crc` declares a wrong
 * CRC-32; `truncated_archive` is the file cut before its central directory.
 */
export function pushwooshZip(
  name: string,
  content: Buffer,
  date: Date,
  damage?: 'truncated_entry' | 'bad_crc' | 'truncated_archive' | 'two_entries',
): Buffer {
  if (damage === 'two_entries') {
    // Each part has the header; the rows are split between them, in order.
    const [header, ...rows] = content.toString('utf8').replace(/\n$/, '').split('\n');
    const half = Math.ceil(rows.length / 2);
    const part = (r: string[]) => [header, ...r].join('\n') + '\n';
    return makeZip(
      {
        [name.replace(/\.csv$/, '_1.csv')]: part(rows.slice(0, half)),
        [name.replace(/\.csv$/, '_2.csv')]: part(rows.slice(half)),
      },
      { mtime: date },
    );
  }
  if (damage === 'truncated_entry') {
    const deflated = deflateRawSync(content);
    const cut = deflated.subarray(0, Math.max(1, Math.floor(deflated.length / 2)));
    // Stored as it is, then declared deflate with the whole content's size and CRC.
    const zip = makeZip({ [name]: cut }, { mtime: date, level: 0 });
    return patchEntry(zip, name, { method: 8, crc: crc32(content), size: content.length });
  }
  const zip = makeZip({ [name]: content }, { mtime: date });
  if (damage === 'bad_crc') return patchEntry(zip, name, { crc: crc32(content) ^ 1 });
  if (damage === 'truncated_archive') return zip.subarray(0, Math.floor(zip.length / 2));
  return zip;
}

// ---------------------------------------------------------------------------------------------
// HTTP routes.

interface Job {
  id: string;
  account: PushwooshAccountFixture;
  day: string;
  createdAt: Date;
  pendingLeft: number;
}

const JSON_PREFIX = /^\/json\/1\.3(?:\/([^/]*))?$/;
const DOWNLOAD_RE = /^\/pushwoosh\/tracking_log\/([0-9a-f]{32})\.zip$/;
const V2_MESSAGE_LOG = PUSHWOOSH_MESSAGE_LOG_PATHS[0];

function jsonResponse(status: number, value: unknown): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value),
  };
}

/** The `/json/1.3` envelope. */
function envelope(statusCode: number, message: string, response: unknown, http = 200): EmuResponse {
  return jsonResponse(http, { status_code: statusCode, status_message: message, response });
}

const argumentError = (message: string) => envelope(210, message, null);
const malformed = () => envelope(400, PUSHWOOSH_MALFORMED_MESSAGE, null, 400);
const v2Error = (status: number, message: string) => jsonResponse(status, { error: message });

// Variants of the undocumented answers (see the research note): tests select one per emulator, to
// check that the connector reads each plausible shape. The first of each table is the default.

/** What getResults answers while the job runs; gets the request, for the echoing variant. */
const PENDING_ANSWERS = {
  status210: () => argumentError(PUSHWOOSH_PENDING_MESSAGE),
  status210Processing: () => argumentError('Request is being processed'),
  status202: () => envelope(202, 'Accepted', null),
  status0: () => envelope(0, '', null),
  status100: () => envelope(100, 'Continue', null),
  string200NoFile: () =>
    jsonResponse(200, { status_code: '200', status_message: 'OK', response: {} }),
  okNoFile: () => envelope(200, 'OK', {}),
  okNullFile: () => envelope(200, 'OK', { fileName: null }),
  okEmptyFile: () => envelope(200, 'OK', { fileName: '' }),
  responseNull: () => envelope(200, 'OK', null),
  responseStatusPending: () => envelope(200, 'OK', { status: 'pending' }),
  responseStatusQueued: () => envelope(200, 'OK', { status: 'queued' }),
  statusProcessing: () => jsonResponse(200, { status: 'processing' }),
  statusInProgress: () => jsonResponse(200, { status_code: 200, status: 'in_progress' }),
  http202Empty: (): EmuResponse => ({ status: 202 }),
  http204: (): EmuResponse => ({ status: 204 }),
  http210: () => envelope(210, PUSHWOOSH_PENDING_MESSAGE, null, 210),
  plainText: (): EmuResponse => ({
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: PUSHWOOSH_PENDING_MESSAGE,
  }),
  echoRequest: (request: Record<string, unknown>) => envelope(202, 'Accepted', { request }),
} satisfies Record<string, (request: Record<string, unknown>) => EmuResponse>;
export type PushwooshPendingVariant = keyof typeof PENDING_ANSWERS;
export const PUSHWOOSH_PENDING_VARIANTS = Object.keys(PENDING_ANSWERS) as PushwooshPendingVariant[];

/** getResults' answer once the file is ready: where the link is and how it is written. */
const READY_ANSWERS = {
  fileName: (url: string) => envelope(200, 'OK', { fileName: url }),
  file_name: (url: string) => envelope(200, 'OK', { file_name: url }),
  url: (url: string) => envelope(200, 'OK', { url }),
  link: (url: string) => envelope(200, 'OK', { link: url }),
  fileUrl: (url: string) => envelope(200, 'OK', { fileUrl: url }),
  protocolRelative: (url: string) => envelope(200, 'OK', { fileName: url.replace(/^https?:/, '') }),
  stringCode: (url: string) =>
    jsonResponse(200, { status_code: '200', status_message: 'OK', response: { fileName: url } }),
} satisfies Record<string, (url: string) => EmuResponse>;
export type PushwooshReadyVariant = keyof typeof READY_ANSWERS;
export const PUSHWOOSH_READY_VARIANTS = Object.keys(READY_ANSWERS) as PushwooshReadyVariant[];

/** A row with its time and action under other names, and message_id as a string or number. */
function reshapeRow(
  row: PushwooshMessageLogRow,
  time: [string, (iso: string) => unknown],
  actionField: string,
  id: 'string' | 'number',
): Record<string, unknown> {
  const { timestamp, action, message_id, ...rest } = row;
  return {
    [time[0]]: time[1](`${timestamp.replace(' ', 'T')}Z`),
    ...rest,
    message_id: id === 'string' ? String(message_id) : message_id,
    [actionField]: action,
  };
}

const unixSeconds = (iso: string) => Date.parse(iso) / 1000;
const OK = { status_code: 200, status_message: 'OK' };

/** getMessageLog pages: where rows and token are, and how a row is written. */
function defaultPage(result: unknown[] | null, token: string | null, flavor: 'v2' | 'json') {
  return flavor === 'v2'
    ? { result, pagination_token: token }
    : { ...OK, response: { result, pagination_token: token } };
}

const MESSAGE_LOG_SHAPES = {
  default: { page: defaultPage, row: (r: PushwooshMessageLogRow): unknown => r },
  /** As the default, but a page without rows has `result: null`. */
  nullWhenEmpty: {
    page: (result: unknown[], token: string | null, flavor: 'v2' | 'json') =>
      defaultPage(result.length ? result : null, token, flavor),
    row: (r: PushwooshMessageLogRow): unknown => r,
  },
  resultTop: {
    page: (result: unknown[], token: string | null) => ({ ...OK, result, pagination_token: token }),
    row: (r: PushwooshMessageLogRow) =>
      reshapeRow(
        r,
        ['time', (iso) => `${iso.slice(0, 19).replace('T', ' ')} UTC`],
        'action',
        'string',
      ),
  },
  rows: {
    page: (rows: unknown[], token: string | null) => ({ ...OK, response: { rows, next: token } }),
    row: (r: PushwooshMessageLogRow) =>
      reshapeRow(r, ['datetime', (iso) => iso], 'status', 'string'),
  },
  items: {
    page: (items: unknown[], token: string | null) => ({ items, next_token: token }),
    row: (r: PushwooshMessageLogRow) => reshapeRow(r, ['date', unixSeconds], 'event', 'number'),
  },
  data: {
    page: (data: unknown[], token: string | null) => ({
      ...OK,
      response: { data },
      pagination_token: token,
    }),
    row: (r: PushwooshMessageLogRow) =>
      reshapeRow(r, ['created_at', (iso) => Date.parse(iso)], 'action', 'number'),
  },
};
export type PushwooshMessageLogVariant = keyof typeof MESSAGE_LOG_SHAPES;
export const PUSHWOOSH_MESSAGE_LOG_VARIANTS = Object.keys(
  MESSAGE_LOG_SHAPES,
) as PushwooshMessageLogVariant[];

/** Emulator options that pick a variant of each undocumented answer. */
export interface PushwooshVariants {
  pendingVariant?: PushwooshPendingVariant;
  readyVariant?: PushwooshReadyVariant;
  messageLogVariant?: PushwooshMessageLogVariant;
  /** The most rows one getMessageLog page holds, whatever `limit` asks; default no cap. */
  messageLogPageCap?: number;
  /**
   * true: getMessageLog checks `application_code` but serves every application of the account,
   * as an API that ignored the filter would; default false (the documented filter).
   */
  messageLogIgnoresApplication?: boolean;
}

function notFoundXml(): EmuResponse {
  return {
    status: 404,
    headers: { 'content-type': 'application/xml' },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
  };
}

type Parsed = { ok: true; request: Record<string, unknown> } | { ok: false };

/** `{"request":{…}}`; `flatAllowed` also takes the fields at top level (the v2 examples vary). */
function parseBody(body: string, flatAllowed: boolean): Parsed | 'bad_json' {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'bad_json';
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false };
  const v = value as Record<string, unknown>;
  const r = v.request;
  if (r && typeof r === 'object' && !Array.isArray(r)) {
    return { ok: true, request: r as Record<string, unknown> };
  }
  return flatAllowed && r === undefined ? { ok: true, request: v } : { ok: false };
}

/** `YYYY-MM-DD HH:MM:SS` (documented) or `YYYY-MM-DD` (taken as midnight), UTC. */
function parseDateTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/.exec(v);
  if (!m || !isValidDay(m[1])) return undefined;
  if (m[2] === undefined) return Date.parse(`${m[1]}T00:00:00Z`);
  const [hh, mm, ss] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (hh > 23 || mm > 59 || ss > 59) return undefined;
  return Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`);
}

const FILTER_KEYS = ['message_id', 'message_code', 'campaign_code', 'hwid', 'user_id'] as const;

export class PushwooshModule implements RouteModule {
  private readonly jobs = new Map<string, Job>();
  private readonly pendingAnswer: (request: Record<string, unknown>) => EmuResponse;
  private readonly readyAnswer: (url: string) => EmuResponse;
  private readonly logShape: (typeof MESSAGE_LOG_SHAPES)[PushwooshMessageLogVariant];
  private readonly pageCap: number;
  private readonly ignoresApplication: boolean;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly accounts: PushwooshAccountFixture[],
    private readonly pendingPolls: number,
    private readonly eventsPerDay: number,
    private readonly servesV2MessageLog = true,
    variants: PushwooshVariants = {},
  ) {
    const v = variants;
    this.pendingAnswer = pickVariant('pushwoosh.pendingVariant', PENDING_ANSWERS, v.pendingVariant);
    this.readyAnswer = pickVariant('pushwoosh.readyVariant', READY_ANSWERS, v.readyVariant);
    this.logShape = pickVariant(
      'pushwoosh.messageLogVariant',
      MESSAGE_LOG_SHAPES,
      v.messageLogVariant,
    );
    this.pageCap = v.messageLogPageCap ?? Infinity;
    if (!(this.pageCap >= 1)) throw new Error('pushwoosh.messageLogPageCap must be at least 1');
    this.ignoresApplication = v.messageLogIgnoresApplication ?? false;
  }

  match(origin: Origin, method: string, path: string): RouteMatch | undefined {
    if (origin === 'files') {
      const m = DOWNLOAD_RE.exec(path);
      if (!m || (method !== 'GET' && method !== 'HEAD')) return undefined;
      return { route: 'pushwoosh.download', handle: () => this.download(m[1]) };
    }
    if (path === V2_MESSAGE_LOG && this.servesV2MessageLog) {
      return { route: 'pushwoosh.getMessageLog', handle: (req) => this.messageLog(req, 'v2') };
    }
    const m = JSON_PREFIX.exec(path);
    if (!m) return undefined;
    const name = m[1] || '';
    const route = name ? `pushwoosh.${name}` : 'pushwoosh.json';
    const handlers: Record<string, (req: EmuRequest) => EmuResponse> = {
      getTrackingLog: (req) => this.trackingLog(req),
      getResults: (req) => this.results(req),
      getMessageLog: (req) => this.messageLog(req, 'json'),
    };
    const handler = handlers[name];
    return {
      route,
      handle: (req) => {
        if (req.method !== 'POST') return envelope(405, 'Method not allowed', null, 405);
        return handler ? handler(req) : envelope(404, `Unknown method ${name}`, null, 404);
      },
    };
  }

  errorResponse(route: string, status: number, message: string): EmuResponse {
    if (route === 'pushwoosh.download') {
      return {
        status,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: message,
      };
    }
    if (route === 'pushwoosh.getMessageLog') return v2Error(status, message);
    return envelope(status, message, null, status);
  }

  reset(): void {
    this.jobs.clear();
  }

  private account(token: unknown): PushwooshAccountFixture | undefined {
    return typeof token === 'string' && token
      ? this.accounts.find((a) => a.apiToken === token)
      : undefined;
  }

  private argumentFault(route: string): string | undefined {
    const f = this.ctx.faults.take(['pushwoosh_argument_error'], (x) =>
      routeMatches(x.route, route),
    );
    return f ? (f.message ?? PUSHWOOSH_DEFAULT_ARGUMENT_ERROR) : undefined;
  }

  /** What every /json/1.3 call checks first: an injected 210, the body, the token. */
  private jsonCall(
    req: EmuRequest,
    route: string,
  ):
    | EmuResponse
    | { parsed: { request: Record<string, unknown> }; account: PushwooshAccountFixture } {
    const injected = this.argumentFault(route);
    if (injected !== undefined) return argumentError(injected);
    const parsed = parseBody(req.body, false);
    if (parsed === 'bad_json') return malformed();
    if (!parsed.ok) return argumentError('Request must be an object {"request": {...}}');
    const account = this.account(parsed.request.auth);
    if (!account) return argumentError(PUSHWOOSH_ACCESS_DENIED_MESSAGE);
    return { parsed, account };
  }

  private trackingLog(req: EmuRequest): EmuResponse {
    const call = this.jsonCall(req, 'pushwoosh.getTrackingLog');
    if ('status' in call) return call;
    const { parsed, account } = call;
    const today = dayOf(this.ctx.now());
    const date = parsed.request.date;
    let day = today;
    if (date !== undefined && date !== null) {
      if (typeof date !== 'string' || !isValidDay(date)) {
        return argumentError(`Invalid date ${JSON.stringify(date)}, expected YYYY-MM-DD`);
      }
      const first = addDays(today, 1 - PUSHWOOSH_TRACKING_DAYS);
      if (date < first || date > today) {
        return argumentError(
          `Date ${date} is out of range: the tracking log covers ${first} to ${today}`,
        );
      }
      day = date;
    }
    const extra = this.ctx.faults.take(['pushwoosh_pending']);
    const job: Job = {
      id: randomBytes(16).toString('hex'),
      account,
      day,
      createdAt: this.ctx.now(),
      pendingLeft: this.pendingPolls + (extra?.polls ?? 0),
    };
    this.jobs.set(job.id, job);
    return envelope(200, 'OK', { request_id: job.id });
  }

  private results(req: EmuRequest): EmuResponse {
    const call = this.jsonCall(req, 'pushwoosh.getResults');
    if ('status' in call) return call;
    const { parsed, account } = call;
    const id = parsed.request.request_id;
    if (id === undefined || id === null || id === '')
      return argumentError('request_id is required');
    const job = typeof id === 'string' ? this.jobs.get(id) : undefined;
    if (!job || job.account.apiToken !== account.apiToken) {
      return argumentError(`Request ${JSON.stringify(id)} not found`);
    }
    if (job.pendingLeft > 0) {
      job.pendingLeft -= 1;
      return this.pendingAnswer(parsed.request);
    }
    return this.readyAnswer(`${this.ctx.filesUrl}/pushwoosh/tracking_log/${job.id}.zip`);
  }

  private download(id: string): EmuResponse {
    const injected = this.argumentFault('pushwoosh.download');
    if (injected !== undefined) return argumentError(injected);
    const job = this.jobs.get(id);
    if (!job || job.pendingLeft > 0) return notFoundXml();
    const fault = this.ctx.faults.take(['malformed_zip']);
    const variant: MalformedZipVariant | undefined = fault?.variant;
    const headers = {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="${job.id}.zip"`,
    };
    if (variant === 'empty_body') return { status: 200, headers, body: '' };
    if (variant === 'foreign_text') return { status: 200, headers, body: FOREIGN_TEXT };
    const rowDefect =
      variant === 'bad_payload' || variant === 'bad_timestamp' || variant === 'bad_timestamps'
        ? variant
        : undefined;
    const csv = pushwooshTrackingCsv(
      pushwooshApplications(job.account),
      job.day,
      this.eventsPerDay,
      { cutoffMs: job.createdAt.getTime(), defect: rowDefect },
    );
    const zip = pushwooshZip(
      PUSHWOOSH_TRACKING_ENTRY,
      Buffer.from(csv, 'utf8'),
      job.createdAt,
      variant === 'truncated_entry' ||
        variant === 'bad_crc' ||
        variant === 'truncated_archive' ||
        variant === 'two_entries'
        ? variant
        : undefined,
    );
    return { status: 200, headers, body: zip };
  }

  private messageLog(req: EmuRequest, flavor: 'v2' | 'json'): EmuResponse {
    if (req.method !== 'POST') return v2Error(405, 'method not allowed');
    const injected = this.argumentFault('pushwoosh.getMessageLog');
    if (injected !== undefined) {
      return flavor === 'v2' ? v2Error(400, injected) : argumentError(injected);
    }
    const parsed = parseBody(req.body, true);
    if (parsed === 'bad_json') {
      return flavor === 'v2' ? v2Error(400, 'malformed JSON in request body') : malformed();
    }
    if (!parsed.ok) return v2Error(400, 'request body must be a JSON object');
    const r = parsed.request;
    // Documented for /api/v2: an Authorization header; `Token <token>` as the Device API has it.
    const header = req.headers.authorization;
    const token = header ? header.replace(/^(?:Token|Bearer)\s+/i, '').trim() : r.auth;
    const account = this.account(token);
    if (!account) return v2Error(400, PUSHWOOSH_ACCOUNT_NOT_FOUND);
    // The filter names one application of the account; without it, every application is served.
    const apps = pushwooshApplications(account);
    const requested = r.application_code;
    if (requested !== undefined && !apps.includes(requested as string)) {
      return v2Error(400, PUSHWOOSH_ACCOUNT_NOT_FOUND);
    }
    const served =
      requested === undefined || this.ignoresApplication ? apps : [requested as string];
    if (!account.messageLogEnabled) return v2Error(403, PUSHWOOSH_NOT_CUSTOM_PLAN);

    const hasDates = r.date_from !== undefined || r.date_to !== undefined;
    if (!hasDates && !FILTER_KEYS.some((k) => r[k] !== undefined && r[k] !== null)) {
      return v2Error(
        400,
        'one of the following fields is required: message_id, message_code, campaign_code, hwid, user_id, date_from and date_to',
      );
    }
    const now = this.ctx.now().getTime();
    let from = now - 30 * DAY_MS;
    let to = now;
    if (hasDates) {
      const f = parseDateTime(r.date_from);
      const t = parseDateTime(r.date_to);
      if (f === undefined) return v2Error(400, `invalid date_from ${JSON.stringify(r.date_from)}`);
      if (t === undefined) return v2Error(400, `invalid date_to ${JSON.stringify(r.date_to)}`);
      if (t <= f) return v2Error(400, 'date_to must be later than date_from');
      if (t - f > 30 * DAY_MS) return v2Error(400, PUSHWOOSH_INTERVAL_ERROR);
      from = f;
      to = t;
    }
    let limit = PUSHWOOSH_MESSAGE_LOG_DEFAULT_LIMIT;
    if (r.limit !== undefined && r.limit !== null) {
      const l = r.limit;
      if (
        typeof l !== 'number' ||
        !Number.isInteger(l) ||
        l < 1 ||
        l > PUSHWOOSH_MESSAGE_LOG_MAX_LIMIT
      ) {
        return v2Error(
          400,
          `limit must be an integer from 1 to ${PUSHWOOSH_MESSAGE_LOG_MAX_LIMIT}`,
        );
      }
      limit = l;
    }
    const filters = this.messageLogFilters(r);
    if (typeof filters === 'string') return v2Error(400, filters);

    // The token names the query (all filters, not the limit) and the offset reached.
    const queryKey = digest(account.apiToken, JSON.stringify([served, filters.key]), from, to)
      .toString('hex')
      .slice(0, 16);
    let offset = 0;
    const pt = r.pagination_token;
    if (pt !== undefined && pt !== null && pt !== '') {
      const decoded = decodeToken(pt);
      if (!decoded || decoded.q !== queryKey) return v2Error(400, 'invalid pagination_token');
      offset = decoded.o;
    }

    const rows: PushwooshMessageLogRow[] = [];
    for (let d = dayOf(new Date(from)); d <= dayOf(new Date(to - 1)); d = addDays(d, 1)) {
      for (const e of eventsOf(served, d, this.eventsPerDay)) {
        // Half-open window [date_from, date_to); events in the future do not exist yet.
        if (!isMessageLogEvent(e) || e.ms < from || e.ms >= to || e.ms > now) continue;
        const entry = messageLogEntry(e);
        if (filters.accept(entry.row)) rows.push(entry.row);
      }
    }
    const end = offset + Math.min(limit, this.pageCap);
    const page = rows.slice(offset, end).map(this.logShape.row);
    let next = end < rows.length ? encodeToken(queryKey, end) : null;
    // A vendor bug a client must survive: the same page token again, for ever.
    if (typeof pt === 'string' && pt !== '' && this.ctx.faults.take(['pushwoosh_repeat_token']))
      next = pt;
    return jsonResponse(200, this.logShape.page(page, next, flavor));
  }

  private messageLogFilters(
    r: Record<string, unknown>,
  ): { key: unknown[]; accept(row: PushwooshMessageLogRow): boolean } | string {
    const str = (k: string): string | undefined | null => {
      const v = r[k];
      if (v === undefined || v === null) return undefined;
      return typeof v === 'string' && v !== '' ? v : null;
    };
    const messageCode = str('message_code');
    const campaignCode = str('campaign_code');
    const userId = str('user_id');
    for (const [k, v] of [
      ['message_code', messageCode],
      ['campaign_code', campaignCode],
      ['user_id', userId],
    ] as const) {
      if (v === null) return `${k} must be a non-empty string`;
    }
    let messageId: number | undefined;
    if (r.message_id !== undefined && r.message_id !== null) {
      const n = typeof r.message_id === 'string' ? Number(r.message_id) : r.message_id;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return 'message_id must be an integer';
      messageId = n;
    }
    let hwids: string[] | undefined;
    if (r.hwid !== undefined && r.hwid !== null) {
      const list = Array.isArray(r.hwid) ? r.hwid : [r.hwid];
      if (!list.length || !list.every((h) => typeof h === 'string' && h)) {
        return 'hwid must be a string or an array of strings';
      }
      hwids = list as string[];
    }
    const listOf = (k: string, allowed: readonly string[]): string[] | undefined | string => {
      const v = r[k];
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && allowed.includes(x))) {
        return `${k} must be an array of: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
      }
      return v as string[];
    };
    const actions = listOf('actions', PUSHWOOSH_DOCUMENTED_ACTIONS);
    if (typeof actions === 'string') return actions;
    const platforms = listOf('platforms', PUSHWOOSH_DOCUMENTED_PLATFORMS);
    if (typeof platforms === 'string') return platforms;
    return {
      key: [messageId, messageCode, campaignCode, userId, hwids, actions, platforms],
      accept: (row) =>
        (messageId === undefined || row.message_id === messageId) &&
        (messageCode === undefined || row.message_code === messageCode) &&
        (campaignCode === undefined || row.campaign_code === campaignCode) &&
        (userId === undefined || row.user_id === userId) &&
        (hwids === undefined || hwids.includes(row.hwid)) &&
        (actions === undefined || actions.includes(row.action)) &&
        (platforms === undefined || platforms.includes(row.platform)),
    };
  }
}

function encodeToken(q: string, o: number): string {
  return Buffer.from(JSON.stringify({ q, o }), 'utf8').toString('base64url');
}

function decodeToken(token: unknown): { q: string; o: number } | undefined {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    const t = v as { q?: unknown; o?: unknown };
    if (typeof t.q !== 'string' || typeof t.o !== 'number' || !Number.isInteger(t.o) || t.o < 0) {
      return undefined;
    }
    return { q: t.q, o: t.o };
  } catch {
    return undefined;
  }
}
