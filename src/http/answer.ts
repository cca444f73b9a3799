import { Readable } from 'node:stream';
import { AxiosError, type AxiosResponse } from 'axios';
import { systemError } from '../airbyte/errors';
import { clip } from '../airbyte/redact';
import type { Answer, HttpRequest, HttpResponse } from './request';
import { type MinThroughput, watchThroughput } from './throughput';

/**
 * The largest JSON or text answer read (files are streamed, not held): far above any API
 * answer, and what keeps a runaway one from growing the process by gigabytes.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * The caller's response: headers in lower case; a download's error body dropped (it is whatever
 * the file host answered); a stream watched for `minThroughput`; JSON parsed.
 */
export function toResponse<T>(
  req: HttpRequest,
  answer: Answer,
  responseType: string,
  minThroughput: MinThroughput,
): HttpResponse<T> {
  const { res, url } = answer;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
  const ok = res.status >= 200 && res.status < 300;
  const download = responseType === 'stream' || req.credentials === false;
  let data: unknown = res.data;
  if (download && !ok) data = withoutBody(res);
  else if (responseType === 'stream') {
    data = watchThroughput(res.data as Readable, minThroughput);
  } else if (responseType === 'json') data = parseJson(req, res.status, data, download);
  return { status: res.status, headers, data: data as T, url };
}

/** axios's refusal of an answer past `maxContentLength` (it stops reading there). */
export function isOversize(err: unknown): boolean {
  return (
    err instanceof AxiosError &&
    err.code === AxiosError.ERR_BAD_RESPONSE &&
    err.message.startsWith('maxContentLength size of ')
  );
}

export function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Drops an answer's body that will not be read. */
export function discard(res: AxiosResponse): void {
  if (res.data instanceof Readable) res.data.destroy();
}

/** A download's error body, replaced by an empty one of the same type. */
function withoutBody(res: AxiosResponse): unknown {
  if (!(res.data instanceof Readable)) return '';
  res.data.destroy();
  return Readable.from([]);
}

function parseJson(req: HttpRequest, status: number, body: unknown, download: boolean): unknown {
  const text = typeof body === 'string' ? body : '';
  if (status >= 200 && status < 300) {
    try {
      return text === '' ? undefined : JSON.parse(text);
    } catch {
      // A download's body is data, not a message: it is never quoted.
      throw systemError(
        `${req.what} answered HTTP ${status} with a body that is not JSON${download ? '.' : `: ${snippet(text)}`}`,
      );
    }
  }
  // Error bodies are kept as JSON when they are, as text otherwise.
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The start of a body for an error message: one line, bounded. */
export function snippet(body: unknown, max = 300): string {
  const text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
  // Redacted before it is cut, so no half of a secret survives the cut.
  return clip(text.replace(/\s+/g, ' ').trim(), max) || '(empty)';
}
