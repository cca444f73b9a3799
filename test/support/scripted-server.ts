import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A tiny real server whose behaviour each test scripts, one handler per request. */
export class ScriptedServer {
  server = http.createServer((req, res) => {
    this.seen.push({ url: req.url ?? '', headers: req.headers, at: Date.now() });
    const h =
      this.script.shift() ??
      ((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    h(req, res);
  });
  script: Handler[] = [];
  seen: { url: string; headers: http.IncomingHttpHeaders; at: number }[] = [];
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
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

/** Drops the connection without an answer. */
export const reset: Handler = (req) => req.socket.destroy();
