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
import { type PushwooshAccountFixture, type PushwooshVariants } from './pushwoosh';
import { FaultRegistry, validateFault } from './core/faults';
import type { EmulatorContext, RouteMatch, RouteModule } from './core/routing';
import type {
  ApnsTeamFixture,
  EmuResponse,
  Fault,
  HandedOutOrigins,
  Origin,
  RecordedRequest,
} from './core/types';
import {
  DEFAULT_PUSHWOOSH_ACCOUNT,
  DEFAULT_PUSHWOOSH_EVENTS_PER_DAY,
  DEFAULT_PUSHWOOSH_PENDING_POLLS,
} from './fixtures';

// The core's public names stay importable from here (tests, bench, soak).
export * from './core/faults';
export * from './core/routing';
export * from './core/types';

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
  if (mode === 'truncated_body') headers['content-length'] = String(body.length);
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
