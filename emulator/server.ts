import { createReadStream, statSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { ApnsModule, type ApnsOptions } from './apns';
import { DEFAULT_APNS_APPS, DEFAULT_PROCESSING_POLLS } from './fixtures';
import { OneSignalModule, type OneSignalOptions } from './onesignal';
import { PushwooshModule } from './pushwoosh';
import {
  PUSHWOOSH_FAULT_KINDS,
  validatePushwooshFault,
  type PushwooshAccountFixture,
  type PushwooshVariants,
} from './pushwoosh';
import {
  DEFAULT_PUSHWOOSH_ACCOUNT,
  DEFAULT_PUSHWOOSH_EVENTS_PER_DAY,
  DEFAULT_PUSHWOOSH_PENDING_POLLS,
} from './fixtures';

export interface ApnsTeamFixture {
  teamId: string;
  bundleId: string;
  tokens: {
    deliverymetrics?: string;
    broadcastapplicationmetric?: string;
    broadcastchannelmetrics?: string;
  };
  channelIds: string[];
}

export interface EmulatorOptions {
  apns?: { teams?: ApnsTeamFixture[]; processingPolls?: number } & ApnsOptions;
  onesignal?: OneSignalOptions;
  pushwoosh?: {
    accounts?: PushwooshAccountFixture[];
    /** getResults answers "not ready" this many times per job; default 2. */
    pendingPolls?: number;
    /** false: only /json/1.3/getMessageLog exists (the v2 path answers 404); default true. */
    messageLogV2?: boolean;
    /** Tracking events per application and UTC day; default 40. */
    eventsPerDay?: number;
  } & PushwooshVariants;
  /** Clock for date rules and expiries; default real time. */
  now?: () => Date;
  /** Port of the API listener; default 0 (random). */
  port?: number;
  /** Port of the files (download) listener; default 0 (random). */
  filesPort?: number;
  /** Both listeners speak https with this certificate (PEM) instead of plain http. */
  tls?: { cert: string; key: string };
}

/**
 * Origins written into the URLs the emulator hands out, instead of its own listeners': `status`
 * for APNs status URLs, `files` for every file link (APNs dataUrl, OneSignal csv_file_url,
 * Pushwoosh tracking-log link). E.g. `https://10.0.0.1` (an internal address), or the files
 * listener's origin spelled `http://` while it speaks https.
 */
export interface HandedOutOrigins {
  status?: string;
  files?: string;
}

export type Origin = 'api' | 'files';

export interface RecordedRequest {
  origin: Origin;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  route: string;
  status: number;
  /** Real wall-clock epoch ms (not the `now` option), so tests can measure waits. */
  at: number;
}

export type MalformedCsvVariant =
  | 'bad_count'
  | 'bad_date'
  | 'unterminated_quote'
  | 'extra_column'
  | 'missing_column'
  | 'bad_timestamp'
  /** The file holds a tenth of the rows its message's counts promise. */
  | 'short_file'
  /** A 200 with an empty body: not even a header row (a cut answer, an unwritten object). */
  | 'empty_body'
  /** A text that is not the export at all (an error page, a credential) instead of the file. */
  | 'foreign_text'
  /** Most rows have a value that does not convert (a count or time), as after a format change. */
  | 'mostly_bad'
  /** APNs delivery metrics: an extra `Environment` column splits each row in two. */
  | 'environment_column';

export type Fault =
  | { kind: 'rate_limit'; route: string; times?: number; retryAfterSeconds?: number }
  | { kind: 'server_error'; route: string; times?: number; status?: number }
  | { kind: 'reset_mid_body'; route: string; times?: number }
  | { kind: 'truncated_body'; route: string; times?: number }
  // The body comes one byte every `intervalMs` (default 1000) after the headers.
  | { kind: 'drip_body'; route: string; intervalMs?: number; times?: number }
  // The route answers `status` (default 302) with this Location instead of its own answer.
  | { kind: 'redirect'; route: string; location: string; status?: RedirectStatus; times?: number }
  // The whole answer, headers included, comes `ms` later.
  | { kind: 'delay'; route: string; ms: number; times?: number }
  | { kind: 'export_failed'; times?: number }
  | { kind: 'export_expired'; times?: number }
  | { kind: 'download_url_expired'; times?: number }
  | { kind: 'malformed_csv'; variant: MalformedCsvVariant; times?: number }
  // Pushwoosh: the next tracking-log job stays pending `polls` more getResults calls.
  | { kind: 'pushwoosh_pending'; polls: number; times?: number }
  // Pushwoosh: the next getMessageLog page that was asked with a token hands the same token back.
  | { kind: 'pushwoosh_repeat_token'; times?: number }
  // Pushwoosh: the next call on `route` answers status_code 210 with `message`.
  | { kind: 'pushwoosh_argument_error'; route: string; message?: string; times?: number }
  | { kind: 'malformed_zip'; variant: MalformedZipVariant; times?: number }
  // OneSignal: the next export_events starts the export, yet answers `status` (default 502).
  | { kind: 'onesignal_export_lost'; status?: number; times?: number };

export type MalformedZipVariant =
  | 'truncated_entry'
  | 'bad_crc'
  | 'truncated_archive'
  | 'bad_payload'
  | 'bad_timestamp'
  /** A 200 with an empty body instead of the ZIP. */
  | 'empty_body'
  /** A text that is not the export (see FOREIGN_TEXT) instead of the ZIP. */
  | 'foreign_text'
  /** Most rows' timestamps cannot be read. */
  | 'bad_timestamps'
  /** The CSV split into two entries, each with the header. */
  | 'two_entries';

/** What `foreign_text` serves: secret-looking text that must never appear in an error. */
export const FOREIGN_TEXT = 'sk_live_FOREIGN7c0ffee1dea5ecret9Z;token=AAAA-BBBB-CCCC\n';

export type RedirectStatus = 301 | 302 | 303 | 307 | 308;
const REDIRECT_STATUSES: readonly number[] = [301, 302, 303, 307, 308];

export type FaultKind = Fault['kind'];

/** A request as route handlers see it (body fully read). */
export interface EmuRequest {
  origin: Origin;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Gzip the body when the client's Accept-Encoding allows it. */
  compressible?: boolean;
  /** Stream this file from disk with its Content-Length instead of `body` (never compressed). */
  file?: string;
  /** Called once the whole body has been written to the client; not after a cut fault. */
  onSent?: () => void;
}

export interface RouteMatch {
  route: string;
  handle(req: EmuRequest): EmuResponse | Promise<EmuResponse>;
}

/** One vendor's routes. */
export interface RouteModule {
  match(origin: Origin, method: string, path: string): RouteMatch | undefined;
  /** An error shaped like the vendor's own, used for injected faults and handler crashes. */
  errorResponse(route: string, status: number, message: string): EmuResponse;
  reset(): void;
  /** Releases resources (temp files) when the emulator closes. */
  close?(): Promise<void>;
}

/** What route modules get from the emulator. */
export interface EmulatorContext {
  now(): Date;
  readonly faults: FaultRegistry;
  /** The origin of the status URLs handed out: the API listener's, unless `handOut` changed it. */
  readonly apiUrl: string;
  /** The origin of the file links handed out: the files listener's, unless `handOut` changed it. */
  readonly filesUrl: string;
}

const ROUTE_FAULTS = [
  'rate_limit',
  'server_error',
  'reset_mid_body',
  'truncated_body',
  'drip_body',
  'redirect',
  'delay',
] as const;
const MALFORMED_VARIANTS: MalformedCsvVariant[] = [
  'bad_count',
  'bad_date',
  'unterminated_quote',
  'extra_column',
  'missing_column',
  'bad_timestamp',
  'short_file',
  'empty_body',
  'foreign_text',
  'mostly_bad',
  'environment_column',
];

/** The entry of `table` that an emulator option names; its first entry when the option is unset. */
export function pickVariant<T>(option: string, table: Record<string, T>, value?: string): T {
  const key = value ?? Object.keys(table)[0];
  if (!Object.hasOwn(table, key)) {
    throw new Error(`${option} must be one of ${Object.keys(table).join(', ')}`);
  }
  return table[key];
}

/** `'*'` matches every known route, `'apns.*'` every route of a vendor. */
export function routeMatches(pattern: string, route: string): boolean {
  if (route === 'unknown') return pattern === 'unknown';
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return route.startsWith(pattern.slice(0, -1));
  return pattern === route;
}

/** Throws a readable error for anything that is not a well-formed Fault. */
export function validateFault(input: unknown): Fault {
  if (!input || typeof input !== 'object') throw new Error('fault must be an object');
  const f = input as Record<string, unknown>;
  const kinds: string[] = [
    ...ROUTE_FAULTS,
    'export_failed',
    'export_expired',
    'download_url_expired',
    'malformed_csv',
    'onesignal_export_lost',
    ...PUSHWOOSH_FAULT_KINDS,
  ];
  if (typeof f.kind !== 'string' || !kinds.includes(f.kind)) {
    throw new Error(`unknown fault kind ${JSON.stringify(f.kind)}`);
  }
  if (f.times !== undefined) {
    const t = f.times;
    if (typeof t !== 'number' || !(t === Infinity || (Number.isInteger(t) && t >= 1))) {
      throw new Error('times must be a positive integer');
    }
  }
  if ((ROUTE_FAULTS as readonly string[]).includes(f.kind)) {
    if (typeof f.route !== 'string' || !f.route) throw new Error(`${f.kind} needs a route`);
  }
  if (f.kind === 'rate_limit' && f.retryAfterSeconds !== undefined) {
    const r = f.retryAfterSeconds;
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0) {
      throw new Error('retryAfterSeconds must be a non-negative integer');
    }
  }
  if ((f.kind === 'server_error' || f.kind === 'onesignal_export_lost') && f.status !== undefined) {
    const s = f.status;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 500 || s > 599) {
      throw new Error('status must be an integer 500..599');
    }
  }
  if (
    f.kind === 'malformed_csv' &&
    !MALFORMED_VARIANTS.includes(f.variant as MalformedCsvVariant)
  ) {
    throw new Error(`unknown malformed_csv variant ${JSON.stringify(f.variant)}`);
  }
  validateHostileFault(f);
  validatePushwooshFault(f);
  return input as Fault;
}

/** The fields of the faults that test the connector's HTTP client: drips, redirects, delays. */
function validateHostileFault(f: Record<string, unknown>): void {
  if (f.kind === 'drip_body' && f.intervalMs !== undefined) {
    integerIn('intervalMs', f.intervalMs, 1, 60_000);
  }
  if (f.kind === 'delay') integerIn('ms', f.ms, 0, 600_000);
  if (f.kind !== 'redirect') return;
  if (typeof f.location !== 'string' || !URL.canParse(f.location, 'http://emulator.invalid')) {
    throw new Error('redirect needs a location (a URL)');
  }
  if (f.status !== undefined && !REDIRECT_STATUSES.includes(f.status as number)) {
    throw new Error(`redirect status must be one of ${REDIRECT_STATUSES.join(', ')}`);
  }
}

function integerIn(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer ${min}..${max}`);
  }
}

/** Pending faults, consumed first-in first-out by the requests they match. */
export class FaultRegistry {
  private entries: { fault: Fault; left: number }[] = [];

  add(fault: Fault): void {
    validateFault(fault);
    this.entries.push({ fault: { ...fault }, left: fault.times ?? 1 });
  }

  clear(): void {
    this.entries = [];
  }

  pending(): Fault[] {
    return this.entries.map((e) => ({ ...e.fault, times: e.left }));
  }

  /** Consumes one use of the oldest fault of one of `kinds` that passes `pred`. */
  take<K extends FaultKind>(
    kinds: readonly K[],
    pred: (f: Extract<Fault, { kind: K }>) => boolean = () => true,
  ): Extract<Fault, { kind: K }> | undefined {
    const i = this.entries.findIndex(
      (e) =>
        (kinds as readonly string[]).includes(e.fault.kind) &&
        pred(e.fault as Extract<Fault, { kind: K }>),
    );
    if (i < 0) return undefined;
    const e = this.entries[i];
    e.left -= 1;
    if (e.left <= 0) this.entries.splice(i, 1);
    return e.fault as Extract<Fault, { kind: K }>;
  }

  /** The route-level fault (if any) for a request on `route`. */
  takeForRoute(route: string) {
    return this.take(ROUTE_FAULTS, (f) => routeMatches(f.route, route));
  }
}

const MAX_BODY = 1 << 20;
const CONTROL_PREFIX = '/__emulator/';

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name.trim() !== 'gzip' && name.trim() !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function json(status: number, value: unknown): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that goes away mid-body must not leave this promise pending forever.
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

export class Emulator {
  readonly requests: RecordedRequest[] = [];
  private readonly faults = new FaultRegistry();
  private readonly clock: () => Date;
  private readonly modules: RouteModule[];
  private readonly apiServer: http.Server | https.Server;
  private readonly filesServer: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  private readonly urls = { api: '', files: '' };
  private handedOut: HandedOutOrigins = {};
  private readonly onesignal: OneSignalModule;
  private closing: Promise<void> | undefined;

  private constructor(options: EmulatorOptions) {
    this.clock = options.now ?? (() => new Date());
    const urls = this.urls;
    const handedOut = () => this.handedOut;
    // Getters, because the ports are only known after listen().
    const ctx: EmulatorContext = {
      now: () => this.clock(),
      faults: this.faults,
      get apiUrl() {
        return handedOut().status ?? urls.api;
      },
      get filesUrl() {
        return handedOut().files ?? urls.files;
      },
    };
    const polls = options.apns?.processingPolls ?? DEFAULT_PROCESSING_POLLS;
    if (!Number.isInteger(polls) || polls < 0) {
      throw new Error('apns.processingPolls must be a non-negative integer');
    }
    this.onesignal = new OneSignalModule(ctx, options.onesignal);
    this.modules = [
      new ApnsModule(ctx, options.apns?.teams ?? DEFAULT_APNS_APPS, polls, options.apns),
      this.onesignal,
      new PushwooshModule(
        ctx,
        options.pushwoosh?.accounts ?? [DEFAULT_PUSHWOOSH_ACCOUNT],
        nonNegativeInt(
          'pushwoosh.pendingPolls',
          options.pushwoosh?.pendingPolls,
          DEFAULT_PUSHWOOSH_PENDING_POLLS,
        ),
        nonNegativeInt(
          'pushwoosh.eventsPerDay',
          options.pushwoosh?.eventsPerDay,
          DEFAULT_PUSHWOOSH_EVENTS_PER_DAY,
        ),
        options.pushwoosh?.messageLogV2 ?? true,
        options.pushwoosh,
      ),
    ];
    this.apiServer = this.createServer('api', options.tls);
    this.filesServer = this.createServer('files', options.tls);
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const emu = new Emulator(options);
    try {
      const scheme = options.tls ? 'https' : 'http';
      emu.urls.api = await listen(emu.apiServer, options.port ?? 0, scheme);
      emu.urls.files = await listen(emu.filesServer, options.filesPort ?? 0, scheme);
    } catch (err) {
      await emu.close();
      throw err;
    }
    return emu;
  }

  get apiUrl(): string {
    return this.urls.api;
  }

  get filesUrl(): string {
    return this.urls.files;
  }

  /** OneSignal export_events requests refused because the account already had one running. */
  get onesignalConcurrentExportViolations(): number {
    return this.onesignal.concurrentExportViolations;
  }

  /** The OneSignal export holding each account's slot (message and app), if any. */
  onesignalRunningExports(): { accountId: string; appId: string; messageId: string }[] {
    return this.onesignal.runningExports();
  }

  /** Sets the OneSignal apps whose key is revoked (every call answers 401); [] restores all. */
  onesignalRevokeApps(appIds: readonly string[]): void {
    this.onesignal.setRevokedApps(appIds);
  }

  /** Frees a OneSignal account's export slot, as the running export's expiry would. */
  onesignalExpireRunning(accountId: string): void {
    this.onesignal.expireRunning(accountId);
  }

  /** Where OneSignal export files are generated; removed by reset() and close(). */
  get onesignalTempDir(): string | undefined {
    return this.onesignal.tempDir;
  }

  /** Hands out status and file URLs on other origins (see HandedOutOrigins); reset() undoes it. */
  handOut(origins: HandedOutOrigins): void {
    for (const origin of [origins.status, origins.files]) {
      if (origin !== undefined && !URL.canParse(origin)) throw new Error(`not a URL: ${origin}`);
    }
    this.handedOut = { ...origins };
  }

  /** `times` defaults to 1; faults are consumed per matching request. */
  inject(fault: Fault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Faults not yet consumed, with the uses left as `times`. */
  pendingFaults(): Fault[] {
    return this.faults.pending();
  }

  /** Clears requests, faults and jobs. */
  reset(): void {
    this.requests.length = 0;
    this.faults.clear();
    this.handedOut = {};
    for (const m of this.modules) m.reset();
  }

  close(): Promise<void> {
    if (!this.closing) {
      const stop = (s: http.Server | https.Server) =>
        new Promise<void>((resolve) => {
          if (!s.listening) return resolve();
          s.close(() => resolve());
        });
      const done = Promise.all([stop(this.apiServer), stop(this.filesServer)]);
      // Keep-alive and in-flight sockets would hold close() open.
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
      this.closing = done.then(async () => {
        await Promise.all(this.modules.map((m) => m.close?.()));
      });
    }
    return this.closing;
  }

  private createServer(origin: Origin, tls: EmulatorOptions['tls']): http.Server | https.Server {
    const listener: http.RequestListener = (req, res) => {
      this.handle(origin, req, res).catch(() => {
        if (!res.headersSent && !res.socket?.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":"emulator crashed"}');
        } else {
          res.destroy();
        }
      });
    };
    const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
    server.on('connection', (socket: Socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private async handle(
    origin: Origin,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const control = origin === 'api' && url.pathname.startsWith(CONTROL_PREFIX);
    const rec: RecordedRequest = {
      origin,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: flatHeaders(req.headers),
      body: '',
      route: 'unknown',
      status: 0,
      at: Date.now(),
    };
    if (!control) this.requests.push(rec);

    const raw = await readBody(req);
    if (raw === null) {
      rec.status = 413;
      return send(res, json(413, { error: 'request body too large' }), 'normal');
    }
    rec.body = raw.toString('utf8');
    if (control) return send(res, this.control(method, url.pathname, rec.body), 'normal');

    let module: RouteModule | undefined;
    let match: RouteMatch | undefined;
    for (const m of this.modules) {
      match = m.match(origin, method, url.pathname);
      if (match) {
        module = m;
        break;
      }
    }
    if (!module || !match) {
      rec.status = 404;
      return send(
        res,
        json(404, { error: 'not found', method, path: url.pathname, origin }),
        'normal',
      );
    }
    rec.route = match.route;

    const fault = this.faults.takeForRoute(match.route);
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    let resp: EmuResponse;
    if (fault?.kind === 'redirect') {
      resp = { status: fault.status ?? 302, headers: { location: fault.location } };
    } else if (fault?.kind === 'rate_limit') {
      resp = module.errorResponse(match.route, 429, 'Too many requests');
      const retry = String(fault.retryAfterSeconds ?? 1);
      resp = { ...resp, headers: { ...resp.headers, 'retry-after': retry } };
    } else if (fault?.kind === 'server_error') {
      const status = fault.status ?? 503;
      resp = module.errorResponse(match.route, status, http.STATUS_CODES[status] ?? 'Server error');
    } else {
      try {
        resp = await match.handle({
          origin,
          method,
          path: url.pathname,
          query: rec.query,
          headers: rec.headers,
          body: rec.body,
        });
      } catch {
        resp = module.errorResponse(match.route, 500, 'Internal server error');
      }
    }
    if (
      resp.compressible &&
      resp.file === undefined &&
      acceptsGzip(rec.headers['accept-encoding'])
    ) {
      resp = {
        ...resp,
        headers: { ...resp.headers, 'content-encoding': 'gzip', vary: 'Accept-Encoding' },
        body: gzipSync(toBuffer(resp.body)),
      };
    }
    rec.status = resp.status;
    if (fault?.kind === 'drip_body') return drip(res, resp, fault.intervalMs ?? 1000);
    const mode =
      fault?.kind === 'reset_mid_body' || fault?.kind === 'truncated_body' ? fault.kind : 'normal';
    send(res, resp, mode);
  }

  private control(method: string, path: string, body: string): EmuResponse {
    if (path === '/__emulator/faults') {
      if (method === 'GET') return json(200, this.faults.pending());
      if (method === 'DELETE') {
        this.faults.clear();
        return { status: 204 };
      }
      if (method === 'POST') {
        try {
          const parsed: unknown = JSON.parse(body);
          const list = Array.isArray(parsed) ? parsed : [parsed];
          const faults = list.map(validateFault);
          for (const f of faults) this.faults.add(f);
          return json(201, { added: faults.length });
        } catch (err) {
          return json(400, { error: (err as Error).message });
        }
      }
    }
    if (path === '/__emulator/requests' && method === 'GET') return json(200, this.requests);
    if (path === '/__emulator/reset' && method === 'POST') {
      this.reset();
      return { status: 204 };
    }
    return json(404, { error: 'unknown control endpoint', method, path });
  }
}

function toBuffer(body: string | Buffer | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

function send(
  res: http.ServerResponse,
  resp: EmuResponse,
  mode: 'normal' | 'reset_mid_body' | 'truncated_body',
): void {
  if (resp.file !== undefined) return sendFile(res, resp, resp.file, mode);
  const body = toBuffer(resp.body);
  const headers: Record<string, string> = { ...resp.headers };
  if (mode === 'normal') {
    headers['content-length'] = String(body.length);
    res.writeHead(resp.status, headers);
    res.end(body, () => resp.onSent?.());
    return;
  }
  const half = body.subarray(0, body.length > 1 ? Math.floor(body.length / 2) : 0);
  // An empty body declares a byte, so that its cut shows (else it reads as a whole empty answer,
  // which yet never counts as sent: a OneSignal download that keeps the slot held).
  if (mode === 'truncated_body') headers['content-length'] = String(Math.max(body.length, 1));
  // Without Content-Length, Node sends the body chunked.
  res.writeHead(resp.status, headers);
  const socket = res.socket;
  const cut = () =>
    setImmediate(() => {
      if (mode === 'reset_mid_body') socket?.destroy();
      else socket?.end();
    });
  if (half.length > 0) res.write(half, cut);
  else {
    res.flushHeaders();
    setTimeout(cut, 20);
  }
}

/** Like send(), streaming a file from disk; the cut faults stop after about half its bytes. */
function sendFile(
  res: http.ServerResponse,
  resp: EmuResponse,
  path: string,
  mode: 'normal' | 'reset_mid_body' | 'truncated_body',
): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"error":"emulator lost a file"}');
    return;
  }
  const headers: Record<string, string> = { ...resp.headers };
  if (mode !== 'reset_mid_body') headers['content-length'] = String(size);
  res.writeHead(resp.status, headers);
  // HEAD reads nothing, so it is no download.
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  if (mode === 'normal' && size === 0) {
    res.end(() => resp.onSent?.());
    return;
  }
  if (mode === 'normal') {
    // onSent fires when the last byte is flushed, not at the file's EOF (a later read), by which
    // time the client may already have sent its next request.
    writeThen(res, createReadStream(path), size, () => resp.onSent?.()).then(
      (all) => (all ? res.end() : res.destroy()),
      () => res.destroy(),
    );
    return;
  }
  const socket = res.socket;
  const cut = () =>
    setImmediate(() => {
      if (mode === 'reset_mid_body') socket?.destroy();
      else socket?.end();
    });
  const half = size > 1 ? Math.floor(size / 2) : 0;
  if (half === 0) {
    res.flushHeaders();
    setTimeout(cut, 20);
    return;
  }
  writeThen(res, createReadStream(path, { start: 0, end: half - 1 }), half, cut).catch(() =>
    res.destroy(),
  );
}

/** Sends `resp` with its Content-Length, one byte at a time, until done or the client leaves. */
async function drip(
  res: http.ServerResponse,
  resp: EmuResponse,
  intervalMs: number,
): Promise<void> {
  const body = resp.file === undefined ? toBuffer(resp.body) : undefined;
  const size = body?.length ?? statSync(resp.file!).size;
  res.writeHead(resp.status, { ...resp.headers, 'content-length': String(size) });
  if (res.req.method === 'HEAD') return void res.end();
  const source: Iterable<Buffer> | AsyncIterable<Buffer> = body
    ? [body]
    : createReadStream(resp.file!);
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i++) {
      if (res.destroyed) return;
      res.write(chunk.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  res.end(() => resp.onSent?.());
}

/**
 * Writes the `total` bytes of `source` to `res` with backpressure, calling `done` once the last
 * one is flushed; false if the client went away first.
 */
async function writeThen(
  res: http.ServerResponse,
  source: Readable,
  total: number,
  done: () => void,
): Promise<boolean> {
  let written = 0;
  for await (const chunk of source) {
    if (res.destroyed) return false;
    written += (chunk as Buffer).length;
    if (written >= total) {
      res.write(chunk as Buffer, done);
      return true;
    }
    if (!res.write(chunk as Buffer)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    }
  }
  return false;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
}

function listen(
  server: http.Server | https.Server,
  port: number,
  scheme: 'http' | 'https',
): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      resolve(`${scheme}://127.0.0.1:${addr.port}`);
    });
  });
}
