import { randomBytes } from 'node:crypto';
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
import {
  PUSHWOOSH_ACCESS_DENIED_MESSAGE,
  PUSHWOOSH_ACCOUNT_NOT_FOUND,
  PUSHWOOSH_DEFAULT_ARGUMENT_ERROR,
  PUSHWOOSH_DOCUMENTED_ACTIONS,
  PUSHWOOSH_DOCUMENTED_PLATFORMS,
  PUSHWOOSH_INTERVAL_ERROR,
  PUSHWOOSH_MALFORMED_MESSAGE,
  PUSHWOOSH_MESSAGE_LOG_DEFAULT_LIMIT,
  PUSHWOOSH_MESSAGE_LOG_MAX_LIMIT,
  PUSHWOOSH_MESSAGE_LOG_PATHS,
  PUSHWOOSH_NOT_CUSTOM_PLAN,
  PUSHWOOSH_PENDING_MESSAGE,
  PUSHWOOSH_TRACKING_DAYS,
  PUSHWOOSH_TRACKING_ENTRY,
  type PushwooshAccountFixture,
  pushwooshApplications,
} from './api';
import {
  digest,
  DAY_MS,
  eventsOf,
  type PushwooshMessageLogRow,
  messageLogEntry,
  isMessageLogEvent,
  pushwooshTrackingCsv,
  pushwooshZip,
} from './data';

// The vendor's documented names and the account shape (api.ts), and the generated rows and files
// (data.ts), stay importable from here.
export * from './api';
export {
  pushwooshDateTime,
  pushwooshMessageLogRows,
  pushwooshTrackingCsv,
  pushwooshTrackingRows,
  pushwooshZip,
  type PushwooshCsvDefect,
  type PushwooshMessageLogEntry,
  type PushwooshMessageLogExpected,
  type PushwooshMessageLogRow,
  type PushwooshTrackingExpected,
  type PushwooshTrackingRow,
} from './data';

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
