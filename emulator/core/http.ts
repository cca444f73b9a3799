/**
 * The HTTP plumbing of the emulator's listeners: reading requests, writing answers (and the cut,
 * dripped or late ones that faults ask for), listening.
 */
import { createReadStream, statSync } from 'node:fs';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { EmuResponse } from './types';

const MAX_BODY = 1 << 20;

export function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name.trim() !== 'gzip' && name.trim() !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

export function json(status: number, value: unknown): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  };
}

export function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
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

export function toBuffer(body: string | Buffer | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

export function send(
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
    writeThen(res, createReadStream(path, { highWaterMark: 1 << 20 }), size, () =>
      resp.onSent?.(),
    ).then(
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
export async function drip(
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

export function listen(
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
