import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { isValidDay } from '../../src/util/time';
import { makeZip, patchEntry } from '../zip';
import { PUSHWOOSH_MESSAGE_LOG_ACTIONS, PUSHWOOSH_TRACKING_HEADER } from './api';

// ---------------------------------------------------------------------------------------------
// Deterministic data: every value is a pure function of (application code, day, row index).

export function digest(...parts: (string | number)[]): Buffer {
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
export const DAY_MS = 86_400_000;
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
export function eventsOf(apps: string | readonly string[], day: string, count: number): Event[] {
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

export function messageLogEntry(e: Event): PushwooshMessageLogEntry {
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

export function isMessageLogEvent(e: Event): boolean {
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
    // Each part has the header; the rows are split between them, in order, on record
    // boundaries (a quoted payload may hold a newline: its lines stay one record).
    const records: string[] = [];
    let open = false;
    for (const line of content.toString('utf8').replace(/\n$/, '').split('\n')) {
      if (open) records[records.length - 1] += `\n${line}`;
      else records.push(line);
      if ((line.split('"').length - 1) % 2 === 1) open = !open;
    }
    const [header, ...rows] = records;
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
