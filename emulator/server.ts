import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { ApnsModule, type ApnsOptions } from './apns';
import { DEFAULT_APNS_APPS, DEFAULT_PROCESSING_POLLS } from './fixtures';
import { OneSignalModule, type OneSignalOptions } from './onesignal';
import { PushwooshModule } from './pushwoosh';
import { type PushwooshAccountFixture, type PushwooshVariants } from './pushwoosh';
import { FaultRegistry, validateFault } from './core/faults';
import {
  acceptsGzip,
  drip,
  flatHeaders,
  json,
  listen,
  readBody,
  send,
  toBuffer,
} from './core/http';
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

const CONTROL_PREFIX = '/__emulator/';

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

    const fault = this.faults.takeForRoute(match.route, url.pathname);
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

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
}
