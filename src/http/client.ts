import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { ConnectorError, transientError } from '../airbyte/errors';
import type { Logger } from '../airbyte/logger';
import { sleep } from '../util/time';
import { safeUrl } from './urls';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Cap on the sum of all waits for one request; past it the request fails as transient. */
  maxTotalWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxTotalWaitMs: 10 * 60_000,
};

/** Headers that authenticate one API, sent only to requests for that API's origin. */
export interface Credential {
  origin: string;
  headers: Record<string, string>;
  /** Other https hosts of the same vendor that may receive it (e.g. a status URL's host). */
  alsoFor?: (url: URL) => boolean;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'HEAD';
  url: string;
  /** What the request is for, in words, for logs and errors ("APNs export status"). */
  what: string;
  headers?: Record<string, string>;
  params?: Record<string, string | number>;
  data?: unknown;
  responseType?: 'json' | 'text' | 'stream';
  /** false for download URLs: no credential is sent even when the origin matches. */
  credentials?: boolean;
  timeoutMs?: number;
}

export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string>;
  data: T;
  url: string;
}

const RETRYABLE_STATUS = (s: number): boolean => s === 429 || s >= 500;

export class HttpClient {
  private readonly axios: AxiosInstance;
  private readonly retry: RetryPolicy;

  constructor(
    /** Public so that vendor code holding only a client can log (e.g. unknown answers). */
    readonly logger: Logger,
    private readonly options: {
      credential?: Credential;
      timeoutMs?: number;
      retry?: Partial<RetryPolicy>;
      userAgent?: string;
    } = {},
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.axios = axios.create({
      timeout: options.timeoutMs ?? 120_000,
      // We read every status ourselves, proxies from the environment are not followed, and
      // bodies stay as sent (a download is spooled compressed, then decoded by us).
      validateStatus: () => true,
      proxy: false,
      decompress: false,
      maxRedirects: 0,
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
      headers: { 'User-Agent': options.userAgent ?? 'source-push-delivery-metrics' },
      transitional: { clarifyTimeoutError: true },
    });
  }

  /**
   * Sends a request, retrying 429, 5xx and network errors with exponential backoff and jitter
   * (honouring Retry-After). Any other status is returned for the caller to interpret.
   */
  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const url = req.url;
    const headers: Record<string, string> = { ...req.headers };
    const cred = this.options.credential;
    if (cred && req.credentials !== false) {
      const u = new URL(url);
      if (u.origin === cred.origin || (u.protocol === 'https:' && cred.alsoFor?.(u)))
        Object.assign(headers, cred.headers);
    }
    const responseType = req.responseType ?? 'json';
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      let res: AxiosResponse | undefined;
      let networkError: Error | undefined;
      try {
        res = await this.axios.request({
          method: req.method,
          url,
          headers,
          params: req.params,
          data: req.data,
          timeout: req.timeoutMs,
          responseType: responseType === 'stream' ? 'stream' : 'text',
          // Downloads may redirect to storage; they carry no credential, so following is safe.
          maxRedirects: req.credentials === false ? 5 : 0,
          transformResponse: (d: unknown) => d,
        });
      } catch (err) {
        networkError = err as Error;
      }
      const retryable =
        networkError !== undefined || (res !== undefined && RETRYABLE_STATUS(res.status));
      if (!retryable && res) return this.finish<T>(req, res, responseType);
      const reason = networkError ? describeNetworkError(networkError) : `HTTP ${res!.status}`;
      if (res && responseType === 'stream') (res.data as Readable).destroy();
      const delay = this.delayFor(attempt, res);
      if (attempt >= this.retry.maxAttempts || waited + delay > this.retry.maxTotalWaitMs) {
        const tried = `after ${attempt} attempt(s) over ${Math.round(waited / 1000)} s`;
        if (res?.status === 429) {
          throw transientError(
            `${req.what} is rate limited (HTTP 429) ${tried}. The next sync will continue.`,
          );
        }
        throw transientError(
          `${req.what} failed: ${reason} ${tried}.`,
          `${req.method} ${safeUrl(url)}`,
        );
      }
      this.logger.warn(
        `${req.what}: ${reason}; retry ${attempt} of ${this.retry.maxAttempts - 1} in ${(delay / 1000).toFixed(1)} s (${req.method} ${safeUrl(url)}).`,
      );
      waited += delay;
      await sleep(delay);
    }
  }

  private delayFor(attempt: number, res: AxiosResponse | undefined): number {
    const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = backoff / 2 + (Math.random() * backoff) / 2;
    const after = res ? retryAfterMs(res.headers['retry-after']) : undefined;
    return after === undefined ? jittered : Math.max(after, jittered);
  }

  private finish<T>(req: HttpRequest, res: AxiosResponse, responseType: string): HttpResponse<T> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
    let data: unknown = res.data;
    if (responseType === 'json') {
      const text = typeof data === 'string' ? data : '';
      if (res.status >= 200 && res.status < 300) {
        try {
          data = text === '' ? undefined : JSON.parse(text);
        } catch {
          throw new ConnectorError(
            `${req.what} answered HTTP ${res.status} with a body that is not JSON: ${snippet(text)}`,
            'system_error',
          );
        }
      } else {
        // Error bodies are kept as JSON when they are, as text otherwise.
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      }
    }
    return { status: res.status, headers, data: data as T, url: req.url };
  }
}

/** Retry-After in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

function describeNetworkError(err: Error): string {
  const code = (err as { code?: string }).code;
  return code ? `network error ${code} (${err.message})` : `network error (${err.message})`;
}

/** The start of a body for an error message: one line, bounded. */
export function snippet(body: unknown, max = 300): string {
  const text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one || '(empty)';
}
