import * as http from 'node:http';

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: http.Agent | false;
}

/**
 * Plain node:http (no automatic decompression, a fresh socket unless an agent is given), so
 * emulator tests see the bytes and headers on the wire. A body cut short is an error.
 */
export function request(url: string, opts: RequestOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('response ended early'));
        });
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text: raw.toString() });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
