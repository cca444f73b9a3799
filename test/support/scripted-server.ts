import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConnectorError } from '../../src/airbyte/errors';
import { readRepoFile } from './repo';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A self-signed certificate for IP 127.0.0.1 only (not `localhost`), valid until 2126. */
export const TEST_TLS = {
  cert: readRepoFile('test', 'fixtures', 'tls', 'cert.pem'),
  key: readRepoFile('test', 'fixtures', 'tls', 'key.pem'),
};

/**
 * A tiny real server on 127.0.0.1 whose behaviour each test scripts, one handler per request
 * (then `{"ok":true}`); `tls` makes it https, with TEST_TLS.
 */
export class ScriptedServer {
  readonly server: http.Server;
  script: Handler[] = [];
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; at: number }[] = [];
  url = '';

  constructor(private readonly tls = false) {
    const handle: http.RequestListener = (req, res) => {
      this.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        at: Date.now(),
      });
      const h =
        this.script.shift() ??
        ((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
      h(req, res);
    };
    this.server = tls ? https.createServer(TEST_TLS, handle) : http.createServer(handle);
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  reset(...script: Handler[]): void {
    this.script = script;
    this.seen = [];
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export const status =
  (code: number, headers: Record<string, string> = {}, body = '{}'): Handler =>
  (_q, r) =>
    r.writeHead(code, headers).end(body);

export const redirect = (location: string, code = 302): Handler => status(code, { location }, '');

/** Drops the connection without an answer. */
export const reset: Handler = (req) => req.socket.destroy();

/** The ConnectorError `promise` rejects with (and fails if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConnectorError, `a ConnectorError, got ${String(err)}`);
    return err;
  }
  assert.fail('the request succeeded');
}
