import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { onesignalFixture } from './fixtures';
import {
  pickVariant,
  type EmulatorContext,
  type RouteMatch,
  type RouteModule,
} from '../core/routing';
import { FOREIGN_TEXT } from '../core/types';
import type { EmuRequest, EmuResponse, MalformedCsvVariant, Origin } from '../core/types';

import type {
  OneSignalAccountFixture,
  OneSignalAppFixture,
  OneSignalMessageFixture,
} from './types';

export { onesignalFixture };
export type { OneSignalAccountFixture, OneSignalAppFixture, OneSignalMessageFixture };

export interface OneSignalOptions {
  accounts?: OneSignalAccountFixture[];
  /** Export generation speed; a file is ready `events / recordsPerSecond` s after the request. */
  recordsPerSecond?: number;
  /** Window of the per-app limit on View messages; 0 disables it. */
  rateLimitWindowMs?: number;
  /** What the file URL answers until the file is ready: S3's 404 NoSuchKey (default) or 403. */
  notReadyStatus?: 404 | 403;
  /** next_time_offset as the opaque token string (default) or as integer unix seconds. */
  nextTimeOffset?: 'token' | 'number';
  /** The export answer's key for the file URL: csv_file_url (default) or csvFileUrl. */
  exportUrlField?: 'csv_file_url' | 'csvFileUrl';
  /**
   * How a second export of an account is refused (undocumented beyond the wording): 400 with
   * the documented text (default), 409 with it, or 429 with "an export is already in progress".
   */
  busyVariant?: 'documented' | 'conflict' | 'inProgress';
  /** The refusal of a second export carries `Retry-After` with these seconds (default: none). */
  busyRetryAfterSeconds?: number;
  /** App IDs whose App API key was revoked: every call of theirs answers 401. */
  revokedApps?: string[];
}

export const ONESIGNAL_CSV_HEADER = [
  'external_user_id',
  'subscription_id',
  'device_type',
  'sent',
  'delivered',
  'clicked',
  'onesignal_id',
  'failed',
  'unsubscribed',
  'failure_message',
];

export const ONESIGNAL_DEFAULT_RECORDS_PER_SECOND = 2000;
export const ONESIGNAL_DEFAULT_RATE_LIMIT_WINDOW_MS = 1000;
export const ONESIGNAL_MAX_LIMIT = 50;
/** How long an export file stays downloadable (emulator clock). */
export const ONESIGNAL_FILE_TTL_MS = 3 * 86_400_000;

export const ONESIGNAL_ERRORS = {
  unauthorized:
    "Access denied.  Please include an 'Authorization: Key' header with a valid App API key.",
  concurrentExport:
    'Only one concurrent export is allowed per account. Please download the previous export before starting a new one.',
  rateLimited: 'API rate limit exceeded.',
};

/** The malformed_csv variants a OneSignal file can carry; bad_date is read as bad_timestamp. */
const ONESIGNAL_DEFECTS: readonly MalformedCsvVariant[] = [
  'bad_timestamp',
  'bad_date',
  'unterminated_quote',
  'extra_column',
  'missing_column',
  'short_file',
  'empty_body',
  'foreign_text',
  'mostly_bad',
];

// ---------------------------------------------------------------------------------------------
// Deterministic rows. Files run to millions of rows, so per-row values come from a cheap integer
// mix of (seed, row, key) rather than a cryptographic hash.

function hash32(...parts: string[]): number {
  return createHash('sha256').update(parts.join('\u001f')).digest().readUInt32BE(0);
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex8(n: number): string {
  return HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];
}

/** A version-4-shaped UUID from four 32-bit values. */
function uuidOf(a: number, b: number, c: number, d: number): string {
  const hb = hex8(b);
  const hc = hex8(((c & 0x3fffffff) | 0x80000000) >>> 0);
  return `${hex8(a)}-${hb.slice(0, 4)}-4${hb.slice(5)}-${hc.slice(0, 4)}-${hc.slice(4)}${hex8(d)}`;
}

const DEVICE_TYPES: [number, string][] = [
  [40, 'iOS'],
  [80, 'Android'],
  [88, 'Chrome'],
  [93, 'Firefox'],
  [97, 'Safari'],
  [99, 'Edge'],
  [100, ''],
];

const FAILURE_MESSAGES = [
  'Not Registered',
  'Invalid "player" id, unsubscribed',
  'Device token expired',
  'MismatchSenderId',
  'Payload too large, "alert" truncated',
  'Unregistered',
];

/** 2026-11-03T13:01:01Z; rows cannot know their message's send time, so they hang off this. */
const ROW_EPOCH_S = 1793710861;

export interface OneSignalExpectedRow {
  subscription_id: string;
  external_user_id: string | null;
  onesignal_id: string | null;
  device_type: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  clicked_at: string | null;
  failed_at: string | null;
  unsubscribed_at: string | null;
  failure_message: string | null;
}

export interface OneSignalEventRow {
  cells: string[];
  expected: OneSignalExpectedRow;
}

type TimeFormat = 'utc' | 'millis' | 'offset' | 'unix';

const PAD = Array.from({ length: 1000 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let cachedDay = NaN;
let cachedDate = '';

/** Hand-rolled (with the date part cached) because millions of rows would spend seconds in toISOString. */
function formatTime(ms: number, format: TimeFormat): string {
  const sec = Math.floor(ms / 1000);
  if (format === 'unix') return String(sec);
  const day = Math.floor(sec / 86_400);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDate = new Date(day * 86_400_000).toISOString().slice(0, 10);
  }
  const s = sec - day * 86_400;
  const time = `${PAD[Math.floor(s / 3600)]}:${PAD[Math.floor(s / 60) % 60]}:${PAD[s % 60]}`;
  if (format === 'utc') return `${cachedDate} ${time} UTC`;
  if (format === 'offset') return `${cachedDate}T${time}+00:00`;
  return `${cachedDate}T${time}.${PAD3[ms - sec * 1000]}Z`;
}

interface RowSeed {
  seed: number;
  baseMs: number;
}

function rowSeed(appId: string, messageId: string): RowSeed {
  const seed = hash32('os-rows', appId, messageId);
  // Within 20 days before ROW_EPOCH, whole seconds.
  return { seed, baseMs: (ROW_EPOCH_S - (seed % (20 * 86_400))) * 1000 };
}

/** One row: its cells, and (when asked) what a connector should make of them. */
function makeRow(s: RowSeed, i: number, withExpected: boolean): OneSignalEventRow {
  const base = mix32(s.seed ^ mix32(i + 0x51ed27));
  const r = (k: number) => mix32((base + Math.imul(k, 0x9e3779b9)) | 0);
  const r0 = r(0);
  const externalId = r0 % 10 < 3 ? '' : `user-${(r0 >>> 8) % 1_000_000}`;
  const subscriptionId = uuidOf(r(1), r(2), r(3), r(4));
  const dv = r(5) % 100;
  const deviceType = DEVICE_TYPES.find(([limit]) => dv < limit)![1];
  const onesignalId = r(6) % 100 === 0 ? '' : uuidOf(r(7), r(8), r(9), r(10));

  const fate = r(11) % 1000; // <20 never sent, <70 failed, else delivered
  const r12 = r(12) % 100;
  const r13 = r(13);
  const f = r13 % 20;
  const format: TimeFormat = f === 0 ? 'millis' : f === 1 ? 'offset' : f === 2 ? 'unix' : 'utc';
  const none = (r13 >>> 8) & 1 ? '-' : '';
  const r14 = r(14);
  const millis = (n: number) => (format === 'millis' ? ((r14 >>> (n * 10)) & 1023) % 1000 : 0);
  const r15 = r(15);

  let sent: number | null = null;
  let delivered: number | null = null;
  let clicked: number | null = null;
  let failed: number | null = null;
  let unsubscribed: number | null = null;
  let failure = '';
  if (fate >= 20) {
    // About 1000 sends a second, so big files span realistic minutes to hours.
    const sentS = s.baseMs + Math.floor(i / 1000) * 1000;
    sent = sentS + millis(0);
    // Each later event at least a second later, so the order holds in every format.
    if (fate < 70) {
      failed = sentS + (1 + (r15 % 5)) * 1000 + millis(1);
      failure = FAILURE_MESSAGES[r(16) % FAILURE_MESSAGES.length];
    } else {
      const deliveredS = sentS + (1 + (r15 % 30)) * 1000;
      delivered = deliveredS + millis(1);
      if (r12 < 8) clicked = deliveredS + (1 + (r(17) % 7200)) * 1000 + millis(2);
    }
    if (r12 >= 96) {
      unsubscribed = (delivered ?? failed ?? sent) + (1 + (r(18) % 86_400)) * 1000;
      if (format !== 'millis') unsubscribed -= unsubscribed % 1000;
    }
  }
  const cell = (ms: number | null) => (ms === null ? none : formatTime(ms, format));
  const cells = [
    externalId,
    subscriptionId,
    deviceType,
    cell(sent),
    cell(delivered),
    cell(clicked),
    onesignalId,
    cell(failed),
    cell(unsubscribed),
    failure,
  ];
  if (!withExpected) return { cells, expected: undefined as unknown as OneSignalExpectedRow };
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    cells,
    expected: {
      subscription_id: subscriptionId,
      external_user_id: externalId || null,
      onesignal_id: onesignalId || null,
      device_type: deviceType || null,
      sent_at: iso(sent),
      delivered_at: iso(delivered),
      clicked_at: iso(clicked),
      failed_at: iso(failed),
      unsubscribed_at: iso(unsubscribed),
      failure_message: failure || null,
    },
  };
}

/** Rows of a message's export, in file order: the raw CSV cells and what the connector should make of them. */
export function* onesignalEventRows(
  appId: string,
  messageId: string,
  count: number,
): Generator<OneSignalEventRow> {
  const s = rowSeed(appId, messageId);
  for (let i = 0; i < count; i++) yield makeRow(s, i, true);
}

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const LINES_PER_CHUNK = 1000;

/** The CSV text of an export in chunks of lines; `defect` plants one malformed_csv defect. */
function* csvChunks(
  appId: string,
  messageId: string,
  count: number,
  defect?: MalformedCsvVariant,
): Generator<string> {
  const header = [...ONESIGNAL_CSV_HEADER];
  if (defect === 'extra_column') header.push('ip_address');
  if (defect === 'missing_column') header.splice(1, 1);
  const s = rowSeed(appId, messageId);
  if (defect === 'short_file') count = Math.floor(count / 10);
  const mid = Math.floor(count / 2);
  let chunk = `${header.join(',')}\n`;
  for (let i = 0; i < count; i++) {
    const { cells } = makeRow(s, i, false);
    // Only failure_message can need quoting; testing every cell would cost a regex each.
    if (cells[9]) cells[9] = csvCell(cells[9]);
    let prefix = '';
    if (defect === 'mostly_bad' && i % 4 !== 0) cells[3] = 'yesterday-ish';
    if (i === mid) {
      if (defect === 'bad_timestamp') cells[3] = 'yesterday-ish';
      else if (defect === 'bad_date') cells[3] = '2026-13-45 13:01:01 UTC';
      else if (defect === 'unterminated_quote') prefix = '"';
    }
    if (defect === 'extra_column') {
      const ip = mix32(s.seed ^ mix32(i + 0x1b873593));
      cells.push(`10.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`);
    }
    if (defect === 'missing_column') cells.splice(1, 1);
    chunk += `${prefix}${cells.join(',')}\n`;
    if ((i + 1) % LINES_PER_CHUNK === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Streams the gzipped CSV to `path` with backpressure, so no file is ever held in memory. */
export async function writeOneSignalExport(
  path: string,
  appId: string,
  messageId: string,
  count: number,
  defect?: MalformedCsvVariant,
  signal?: AbortSignal,
): Promise<void> {
  const source = Readable.from(csvChunks(appId, messageId, count, defect));
  await pipeline(source, createGzip({ level: 1 }), createWriteStream(path), { signal });
}

// ---------------------------------------------------------------------------------------------
// Messages as View messages shows them.

/** The next_time_offset token: base64 of `<ISO time with microseconds>#<message id>`. */
export function onesignalTimeOffsetToken(micros: number, id: string): string {
  const ms = Math.floor(micros / 1000);
  const frac = String(micros - Math.floor(micros / 1e6) * 1e6).padStart(6, '0');
  const iso = `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
  return Buffer.from(`${iso}#${id}`, 'utf8').toString('base64');
}

/** Sorts after every message id at the same time, so an ISO time_offset excludes its own second. */
const MAX_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

interface Position {
  micros: number;
  id: string;
}

const ISO_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;
const TOKEN_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)#([0-9a-fA-F-]{36})$/;

function parseIso(text: string): number | undefined {
  const m = ISO_RE.exec(text);
  if (!m) return undefined;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  const ms = Date.parse(`${m[1]}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

function parseTimeOffset(raw: string): Position | undefined {
  const iso = parseIso(raw);
  if (iso !== undefined) return { micros: iso, id: MAX_ID };
  // Unix seconds, as the integer next_time_offset variant gives.
  if (/^\d{1,12}$/.test(raw)) return { micros: Number(raw) * 1e6, id: MAX_ID };
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) return undefined;
  const m = TOKEN_RE.exec(Buffer.from(raw, 'base64').toString('utf8'));
  if (!m) return undefined;
  const micros = parseIso(m[1]);
  return micros === undefined ? undefined : { micros, id: m[2].toLowerCase() };
}

function messageMicros(m: OneSignalMessageFixture): number {
  return Math.round(m.sendAfter * 1e6);
}

function afterPosition(m: OneSignalMessageFixture, p: Position): boolean {
  const t = messageMicros(m);
  return t > p.micros || (t === p.micros && m.id.toLowerCase() > p.id);
}

function notificationJson(appId: string, m: OneSignalMessageFixture): Record<string, unknown> {
  const h = (k: string) => hash32('os-msg', k, appId, m.id);
  const channel = m.channel ?? 'push';
  const total = m.events;
  let successful = 0;
  let failed = 0;
  let errored = 0;
  if (m.remaining !== null) {
    failed = Math.floor((total * (h('failed') % 50)) / 1000);
    errored = Math.floor((total * (h('errored') % 10)) / 1000);
    successful = Math.max(0, total - m.remaining - failed - errored);
  }
  const converted = Math.floor((successful * (h('converted') % 100)) / 1000);
  const received = Math.floor((successful * (900 + (h('received') % 100))) / 1000);
  const share = (h('share') % 101) / 100;
  const part = (n: number, first: boolean) =>
    first ? Math.round(n * share) : n - Math.round(n * share);
  const stats = (first: boolean) => ({
    successful: part(successful, first),
    failed: part(failed, first),
    errored: part(errored, first),
    converted: part(converted, first),
    received: part(received, first),
  });
  const whole = { successful, failed, errored, converted, received };
  const platform =
    channel === 'push' ? { ios: stats(true), android: stats(false) } : { [channel]: whole };
  const short = m.id.slice(0, 8);
  return {
    id: m.id,
    app_id: appId,
    queued_at: Math.floor(m.queuedAt ?? m.sendAfter),
    send_after: Math.floor(m.sendAfter),
    completed_at: m.completedAt,
    successful,
    failed,
    errored,
    converted,
    remaining: m.remaining,
    received,
    canceled: m.canceled ?? false,
    name: `${channel} campaign ${short}`,
    contents: { en: channel === 'email' ? '' : `Hello from ${short}` },
    headings: { en: `Campaign ${short}` },
    isEmail: channel === 'email',
    isSms: channel === 'sms',
    isIos: channel === 'push',
    isAndroid: channel === 'push',
    isChromeWeb: channel === 'push' && h('web') % 2 === 0,
    included_segments: h('segments') % 3 === 0 ? ['Active Users', 'Engaged'] : ['Subscribed Users'],
    excluded_segments: h('segments') % 4 === 0 ? ['Inactive Users'] : [],
    filters:
      h('filters') % 5 === 0 ? [{ field: 'tag', key: 'plan', relation: '=', value: 'pro' }] : null,
    template_id: h('template') % 2 === 0 ? `tpl-${short}` : null,
    platform_delivery_stats: platform,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP routes.

function errors(status: number, message: string, extra: Record<string, unknown> = {}): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errors: [message], ...extra }),
  };
}

function ok(value: unknown): EmuResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  };
}

function s3Error(status: number, code: string, message: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}

const noSuchKey = () => s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
/** S3's answer for a missing key when the caller may not list the bucket. */
const accessDenied = () => s3Error(403, 'AccessDenied', 'Access Denied');

/** `2025-02-19T07-16-49PMUTC`, the stamp in OneSignal's file names. */
function fileStamp(d: Date): string {
  const iso = d.toISOString();
  const h = d.getUTCHours();
  const h12 = String(h % 12 === 0 ? 12 : h % 12).padStart(2, '0');
  return `${iso.slice(0, 10)}T${h12}-${iso.slice(14, 16)}-${iso.slice(17, 19)}${h < 12 ? 'AM' : 'PM'}UTC`;
}

interface AccountState {
  id: string;
  /** The export that holds the account's only slot, until its file is fully downloaded once. */
  running?: ExportJob;
}

interface AppState {
  fixture: OneSignalAppFixture;
  account: AccountState;
  /** Real epoch ms of the last View messages request let through. */
  lastView?: number;
}

interface GeneratedFile {
  path: string;
  done: boolean;
  failed: boolean;
  settled: Promise<void>;
}

interface ExportJob {
  app: AppState;
  message: OneSignalMessageFixture;
  file: GeneratedFile;
  /** Real epoch ms of the request: readiness is waited for in real time, like a poll loop does. */
  requestedAt: number;
  /** Emulator clock ms. */
  expiresAt: number;
}

const LIST_RE = /^(?:\/api\/v1)?\/notifications$/;
const EXPORT_RE = /^(?:\/api\/v1)?\/notifications\/([^/]+)\/export_events$/;
const DOWNLOAD_RE = /^\/onesignal\/csv_exports\/([^/]+)\/([^/]+)$/;

export class OneSignalModule implements RouteModule {
  /** Export requests refused because another export of the account was running. */
  concurrentExportViolations = 0;
  private readonly apps = new Map<string, AppState>();
  private readonly accounts: OneSignalAccountFixture[];
  private readonly recordsPerSecond: number;
  private readonly rateLimitWindowMs: number;
  private readonly missing: () => EmuResponse;
  private readonly numericOffsets: boolean;
  private readonly exportUrlField: string;
  private readonly busy: () => EmuResponse;
  private revoked: Set<string>;
  /** Generated export files, one per (app, message). */
  private files = new Map<string, GeneratedFile>();
  /** Issued download file names. */
  private exports = new Map<string, ExportJob>();
  private dir: string | undefined;
  private fileSeq = 0;
  private abort = new AbortController();
  private pendingFiles = new Set<Promise<void>>();

  constructor(
    private readonly ctx: EmulatorContext,
    options: OneSignalOptions = {},
  ) {
    this.accounts = options.accounts ?? [onesignalFixture(ctx.now())];
    this.recordsPerSecond = options.recordsPerSecond ?? ONESIGNAL_DEFAULT_RECORDS_PER_SECOND;
    if (!(typeof this.recordsPerSecond === 'number' && this.recordsPerSecond > 0)) {
      throw new Error('onesignal.recordsPerSecond must be a positive number');
    }
    this.rateLimitWindowMs = options.rateLimitWindowMs ?? ONESIGNAL_DEFAULT_RATE_LIMIT_WINDOW_MS;
    if (!(Number.isFinite(this.rateLimitWindowMs) && this.rateLimitWindowMs >= 0)) {
      throw new Error('onesignal.rateLimitWindowMs must be a non-negative number');
    }
    this.missing = pickVariant(
      'onesignal.notReadyStatus',
      { 404: noSuchKey, 403: accessDenied },
      String(options.notReadyStatus ?? 404), // numeric keys sort, so the default is explicit
    );
    this.numericOffsets = pickVariant(
      'onesignal.nextTimeOffset',
      { token: false, number: true },
      options.nextTimeOffset,
    );
    this.busy = pickVariant(
      'onesignal.busyVariant',
      {
        documented: () => errors(400, ONESIGNAL_ERRORS.concurrentExport),
        conflict: () => errors(409, ONESIGNAL_ERRORS.concurrentExport),
        inProgress: () => errors(429, 'An export is already in progress for this account.'),
      },
      options.busyVariant,
    );
    const retryAfter = options.busyRetryAfterSeconds;
    if (retryAfter !== undefined) {
      if (!Number.isInteger(retryAfter) || retryAfter < 0)
        throw new Error('onesignal.busyRetryAfterSeconds must be a non-negative integer');
      const refuse = this.busy;
      this.busy = () => {
        const r = refuse();
        return { ...r, headers: { ...r.headers, 'retry-after': String(retryAfter) } };
      };
    }
    this.revoked = new Set(options.revokedApps ?? []);
    this.exportUrlField = pickVariant(
      'onesignal.exportUrlField',
      { csv_file_url: 'csv_file_url', csvFileUrl: 'csvFileUrl' },
      options.exportUrlField,
    );
    for (const account of this.accounts) {
      for (const app of account.apps) {
        if (this.apps.has(app.appId)) throw new Error(`duplicate OneSignal app ${app.appId}`);
        const ids = new Set<string>();
        for (const m of app.messages) {
          if (ids.has(m.id)) throw new Error(`duplicate OneSignal message ${m.id}`);
          if (!Number.isInteger(m.events) || m.events < 0) {
            throw new Error(`OneSignal message ${m.id}: events must be a non-negative integer`);
          }
          ids.add(m.id);
        }
        this.apps.set(app.appId, {
          fixture: app,
          account: { id: account.accountId },
        });
      }
    }
    this.initState();
  }

  /** Fresh per-account state and pregenerated files. */
  private initState(): void {
    const states = new Map<string, AccountState>();
    for (const account of this.accounts) states.set(account.accountId, { id: account.accountId });
    for (const account of this.accounts) {
      for (const app of account.apps) {
        const state = this.apps.get(app.appId)!;
        state.account = states.get(account.accountId)!;
        state.lastView = undefined;
        for (const m of app.messages) if (m.pregenerate) this.fileFor(state, m);
      }
    }
  }

  match(origin: Origin, method: string, path: string): RouteMatch | undefined {
    let m: RegExpExecArray | null;
    if (origin === 'api' && method === 'GET' && LIST_RE.test(path)) {
      return { route: 'onesignal.notifications', handle: (req) => this.list(req) };
    }
    if (origin === 'api' && method === 'POST' && (m = EXPORT_RE.exec(path))) {
      const id = decode(m[1]);
      if (id !== undefined) {
        return { route: 'onesignal.export', handle: (req) => this.exportEvents(req, id) };
      }
    }
    // HEAD, as S3 allows, lets a poller see readiness without downloading.
    const read = method === 'GET' || method === 'HEAD';
    if (origin === 'files' && read && (m = DOWNLOAD_RE.exec(path))) {
      const app = decode(m[1]);
      const name = decode(m[2]);
      if (app !== undefined && name !== undefined) {
        return { route: 'onesignal.download', handle: () => this.download(app, name) };
      }
    }
    return undefined;
  }

  errorResponse(route: string, status: number, message: string): EmuResponse {
    if (route === 'onesignal.download') {
      const code = status === 503 || status === 429 ? 'SlowDown' : 'InternalError';
      return s3Error(status, code, message);
    }
    if (status === 429) return this.rateLimited();
    return errors(status, message);
  }

  reset(): void {
    this.abort.abort();
    this.abort = new AbortController();
    this.pendingFiles.clear();
    this.files = new Map();
    this.exports = new Map();
    this.concurrentExportViolations = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.initState();
  }

  /** Stops generation and deletes every temp file. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.pendingFiles]);
    this.files = new Map();
    this.exports = new Map();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** Replaces the revoked apps (revokedApps): a soak revokes a key, then restores it. */
  setRevokedApps(appIds: readonly string[]): void {
    this.revoked = new Set(appIds);
  }

  /** The export holding each account's one slot: what a stopped sync may have left running. */
  runningExports(): { accountId: string; appId: string; messageId: string }[] {
    const out = new Map<string, { accountId: string; appId: string; messageId: string }>();
    for (const app of this.apps.values()) {
      const job = app.account.running;
      if (job && this.ctx.now().getTime() < job.expiresAt)
        out.set(app.account.id, {
          accountId: app.account.id,
          appId: job.app.fixture.appId,
          messageId: job.message.id,
        });
    }
    return [...out.values()];
  }

  /** Frees an account's slot as the export's 3-day expiry would (a soak skips the wait). */
  expireRunning(accountId: string): void {
    for (const app of this.apps.values())
      if (app.account.id === accountId) app.account.running = undefined;
  }

  /** The temp directory of this emulator's files (undefined until the first one). */
  get tempDir(): string | undefined {
    return this.dir;
  }

  private rateLimited(): EmuResponse {
    const resp = errors(429, ONESIGNAL_ERRORS.rateLimited, {
      limit: `1 request per ${this.rateLimitWindowMs || 1000} ms per app on view endpoints`,
    });
    return { ...resp, headers: { ...resp.headers, 'retry-after': '1' } };
  }

  /** The app of `app_id` if the request's key is its App API key, else the error to send. */
  private authorize(req: EmuRequest): AppState | EmuResponse {
    const appId = req.query.app_id;
    if (!appId) {
      return errors(
        400,
        'app_id not found. You may be missing a Content-Type: application/json header.',
      );
    }
    const app = this.apps.get(appId);
    if (!app) return errors(400, 'app_id not found');
    const m = /^key\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m || m[1] !== app.fixture.apiKey || this.revoked.has(appId))
      return errors(401, ONESIGNAL_ERRORS.unauthorized);
    return app;
  }

  private list(req: EmuRequest): EmuResponse {
    const app = this.authorize(req);
    if (!isApp(app)) return app;
    if (this.rateLimitWindowMs > 0) {
      const now = Date.now();
      if (app.lastView !== undefined && now - app.lastView < this.rateLimitWindowMs) {
        return this.rateLimited();
      }
      app.lastView = now;
    }
    const q = req.query;
    let limit = ONESIGNAL_MAX_LIMIT;
    if (q.limit !== undefined) {
      if (!/^\d+$/.test(q.limit) || Number(q.limit) < 1) {
        return errors(400, 'limit must be a positive integer');
      }
      limit = Math.min(Number(q.limit), ONESIGNAL_MAX_LIMIT);
    }
    if (q.offset !== undefined && !/^\d+$/.test(q.offset)) {
      return errors(400, 'offset must be a non-negative integer');
    }
    if (q.offset !== undefined && q.time_offset !== undefined) {
      return errors(400, 'offset cannot be used together with time_offset');
    }
    if (q.kind !== undefined && !['0', '1', '3'].includes(q.kind)) {
      return errors(400, 'kind must be 0, 1 or 3');
    }
    let messages = [...app.fixture.messages];
    if (q.kind !== undefined) messages = messages.filter((m) => (m.kind ?? 1) === Number(q.kind));
    const appId = app.fixture.appId;
    const page = (list: OneSignalMessageFixture[]) => list.map((m) => notificationJson(appId, m));

    if (q.time_offset !== undefined) {
      const pos = parseTimeOffset(q.time_offset);
      if (!pos) return errors(400, 'time_offset must be an ISO 8601 time or a next_time_offset');
      messages.sort((a, b) => messageMicros(a) - messageMicros(b) || cmp(a.id, b.id));
      const chosen = messages.filter((m) => afterPosition(m, pos)).slice(0, limit);
      const last = chosen[chosen.length - 1];
      // An empty page keeps the position, so the token can be reused to pick up new messages.
      const at = last ? { micros: messageMicros(last), id: last.id.toLowerCase() } : pos;
      const next = this.numericOffsets
        ? Math.floor(at.micros / 1e6)
        : onesignalTimeOffsetToken(at.micros, at.id);
      return ok({
        total_count: messages.length,
        offset: null,
        limit,
        time_offset: q.time_offset,
        next_time_offset: next,
        notifications: page(chosen),
      });
    }
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    const queued = (m: OneSignalMessageFixture) => m.queuedAt ?? m.sendAfter;
    messages.sort((a, b) => queued(b) - queued(a) || cmp(b.id, a.id));
    return ok({
      total_count: messages.length,
      offset,
      limit,
      time_offset: null,
      next_time_offset: null,
      notifications: page(messages.slice(offset, offset + limit)),
    });
  }

  private exportEvents(req: EmuRequest, messageId: string): EmuResponse {
    const app = this.authorize(req);
    if (!isApp(app)) return app;
    // Looked up live: tests may push messages onto a fixture's array while the emulator runs.
    const message = app.fixture.messages.find((m) => m.id === messageId);
    if (!message) return errors(404, 'Notification not found', { success: false });
    const account = app.account;
    const running = account.running;
    if (running && this.ctx.now().getTime() >= running.expiresAt) account.running = undefined;
    if (account.running) {
      this.concurrentExportViolations += 1;
      return this.busy();
    }
    const now = this.ctx.now();
    const job: ExportJob = {
      app,
      message,
      file: this.fileFor(app, message),
      requestedAt: Date.now(),
      expiresAt: now.getTime() + ONESIGNAL_FILE_TTL_MS,
    };
    account.running = job;
    const channel = message.channel ?? 'push';
    const name = `events_audience-activity-${message.id}-${channel}-${fileStamp(now)}-${randomUUID()}.csv.gz`;
    this.exports.set(name, job);
    const appId = encodeURIComponent(app.fixture.appId);
    // The export started, yet the answer is a gateway's error: its file URL is lost.
    const lost = this.ctx.faults.take(['onesignal_export_lost']);
    if (lost) return errors(lost.status ?? 502, 'Bad Gateway');
    return ok({
      [this.exportUrlField]:
        `${this.ctx.filesUrl}/onesignal/csv_exports/${appId}/${encodeURIComponent(name)}`,
    });
  }

  private async download(appId: string, name: string): Promise<EmuResponse> {
    const job = this.exports.get(name);
    if (!job || job.app.fixture.appId !== appId) return this.missing();
    if (this.ctx.now().getTime() >= job.expiresAt) return this.missing();
    const generationMs =
      job.message.generationMs ?? (job.message.events / this.recordsPerSecond) * 1000;
    if (!job.file.done || Date.now() < job.requestedAt + generationMs) return this.missing();
    if (job.file.failed) return s3Error(500, 'InternalError', 'We encountered an internal error.');
    const defect = this.ctx.faults.take(['malformed_csv'], (f) =>
      ONESIGNAL_DEFECTS.includes(f.variant),
    );
    const served = (body: string): EmuResponse => ({
      status: 200,
      headers: { 'content-type': 'application/gzip' },
      body,
      onSent: () => {
        if (job.app.account.running === job) job.app.account.running = undefined;
      },
    });
    if (defect?.variant === 'empty_body') return served('');
    if (defect?.variant === 'foreign_text') return served(FOREIGN_TEXT);
    let path = job.file.path;
    if (defect) {
      const bad = this.generate(job.app.fixture.appId, job.message, defect.variant);
      await bad.settled;
      if (bad.failed) return s3Error(500, 'InternalError', 'We encountered an internal error.');
      path = bad.path;
    }
    return {
      status: 200,
      headers: { 'content-type': 'application/gzip' },
      file: path,
      onSent: () => {
        // Only a complete download frees the account's export slot.
        if (job.app.account.running === job) job.app.account.running = undefined;
      },
    };
  }

  /** The message's export file, generated once and reused by later exports. */
  private fileFor(app: AppState, message: OneSignalMessageFixture): GeneratedFile {
    const key = `${app.fixture.appId}\n${message.id}`;
    let file = this.files.get(key);
    if (!file || file.failed) {
      file = this.generate(app.fixture.appId, message);
      this.files.set(key, file);
    }
    return file;
  }

  private generate(
    appId: string,
    message: OneSignalMessageFixture,
    defect?: MalformedCsvVariant,
  ): GeneratedFile {
    if (!this.dir) this.dir = mkdtempSync(join(tmpdir(), 'pdm-emulator-onesignal-'));
    this.fileSeq += 1;
    const path = join(this.dir, `${this.fileSeq}${defect ? `-${defect}` : ''}.csv.gz`);
    const file: GeneratedFile = { path, done: false, failed: false, settled: Promise.resolve() };
    const signal = this.abort.signal;
    const settled = writeOneSignalExport(path, appId, message.id, message.events, defect, signal)
      .then(
        () => {
          file.done = true;
        },
        () => {
          file.done = true;
          file.failed = true;
        },
      )
      .finally(() => this.pendingFiles.delete(settled));
    file.settled = settled;
    this.pendingFiles.add(settled);
    return file;
  }
}

function isApp(x: AppState | EmuResponse): x is AppState {
  return 'fixture' in x;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
