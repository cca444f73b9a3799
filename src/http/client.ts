import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { ConnectorError, configError, systemError, transientError } from '../airbyte/errors';
import type { Logger } from '../airbyte/logger';
import type { Clock } from '../util/clock';
import { shutdown } from '../util/shutdown';
import { clip } from '../airbyte/redact';
import {
  deadlineError,
  describeNetworkError,
  errorCode,
  permanentProblem,
  policyErrorOf,
} from './network';
import { DEFAULT_MIN_THROUGHPUT, type MinThroughput, watchThroughput } from './throughput';
import { safeUrl, STRICT_URL_POLICY, type UrlPolicy, urlPolicyFor } from './urls';

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

/** The whole of one try of an API call; a download's until its headers. */
export const DEFAULT_DEADLINE_MS = 5 * 60_000;

/** Redirect hops followed for one request. */
export const MAX_REDIRECTS = 5;

/**
 * The largest JSON or text answer read (files are streamed, not held): far above any API
 * answer, and what keeps a runaway one from growing the process by gigabytes.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

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
  /**
   * A `stream` body is watched for a minimum throughput. A download's (`stream`, or
   * `credentials: false`) error body is dropped: it is not the vendor's message but whatever
   * the file host answered, and must not reach an error message.
   */
  responseType?: 'json' | 'text' | 'stream';
  /**
   * false for download URLs: no credential is sent even when the origin matches, and an http
   * link is upgraded to https (where plain http is not allowed).
   */
  credentials?: boolean;
  /** Idle timeout. */
  timeoutMs?: number;
  /** Total time of one try; see HttpClientOptions.deadlineMs. */
  deadlineMs?: number;
  /** Aborts the request and its retry waits at once (a shutdown). */
  signal?: AbortSignal;
  /**
   * The request has an effect at the vendor (it starts an export that holds a slot). A network
   * error after it may have been received, and a 5xx answer (the vendor may have acted before
   * failing), are not retried, since a second one would be refused or start a second export: the
   * first throws `MaybeReceived`, the second is returned to the caller. A 429 (refused, so not
   * acted on; retried after its Retry-After) and errors before any byte was sent are retried.
   */
  unsafeToRepeat?: boolean;
  /**
   * Whether an answer that would be retried (429, 5xx) is the caller's to read instead, from its
   * status and body text (non-stream requests): e.g. a 429 that says "an export is running".
   */
  isFinal?: (status: number, body: string) => boolean;
}

export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string>;
  data: T;
  /** The URL that answered, after redirects. */
  url: string;
}

export interface HttpClientOptions {
  /** Every retry wait sleeps on this clock. */
  clock: Clock;
  credential?: Credential;
  /** What may be requested and redirected to; default https only, no loopback. */
  urlPolicy?: UrlPolicy;
  /** The config field of the API URL (`onesignal.api_url`), named when its host fails TLS or DNS. */
  apiUrlField?: string;
  /** Idle timeout of a request. */
  timeoutMs?: number;
  /** Total time of one try of an API call (connect, headers, body); of a download's headers. */
  deadlineMs?: number;
  /** The slowest a download (`stream`) body may arrive. */
  minThroughput?: MinThroughput;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Aborts every request of this client and its retry waits (a shutdown). */
  signal?: AbortSignal;
  /** PEM certificates trusted besides Node's own (a test server's self-signed one). */
  ca?: string;
  /** The largest JSON or text answer read, in bytes; default MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/** Binds a client to a provider's configured API URL; `field` names it in errors. */
export function apiUrlOptions(
  apiUrl: string,
  field: string,
): Pick<HttpClientOptions, 'urlPolicy' | 'apiUrlField'> {
  return { urlPolicy: urlPolicyFor(apiUrl), apiUrlField: field };
}

interface Agents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/** One answer, and the URL that gave it. */
interface Answer {
  res: AxiosResponse;
  url: string;
}

/** Network errors that prove a request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

const RETRYABLE_STATUS = (s: number): boolean => s === 429 || s >= 500;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Request headers a redirect hop never carries, besides the credential's own. */
const SECRET_HEADER = /^(cookie|proxy-authorization)$|auth|token|secret|key|signature|session/i;

/** An unsafe request (see HttpRequest.unsafeToRepeat) that the vendor may have received. */
export class MaybeReceived extends ConnectorError {
  constructor(message: string, internal?: string) {
    super(message, 'transient_error', internal);
    this.name = 'MaybeReceived';
  }
}

export class HttpClient {
  private readonly axios: AxiosInstance;
  private readonly retry: RetryPolicy;
  private readonly policy: UrlPolicy;
  /** For the configured API origin. */
  private readonly agents: Agents;
  /** For every vendor URL and redirect hop: their lookup refuses internal addresses. */
  private readonly checkedAgents: Agents;

  constructor(
    /** Public so that vendor code holding only a client can log (e.g. unknown answers). */
    readonly logger: Logger,
    private readonly options: HttpClientOptions,
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.policy = options.urlPolicy ?? STRICT_URL_POLICY;
    const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca];
    this.agents = agents({ ca });
    this.checkedAgents = agents({ ca, lookup: this.policy.lookup });
    this.axios = axios.create({
      timeout: options.timeoutMs ?? 120_000,
      // We read every status ourselves, proxies from the environment are not followed, and
      // bodies stay as sent (a download is spooled compressed, then decoded by us).
      validateStatus: () => true,
      proxy: false,
      decompress: false,
      // Redirects are followed by `follow`, which checks each hop.
      maxRedirects: 0,
      headers: { 'User-Agent': options.userAgent ?? 'source-push-delivery-metrics' },
      transitional: { clarifyTimeoutError: true },
    });
  }

  /**
   * Sends a request, retrying 429, 5xx and network errors with exponential backoff and jitter
   * (honouring Retry-After). Any other status is returned for the caller to interpret. A URL
   * the policy refuses, a certificate that is not valid and an unknown host fail at once.
   */
  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    // A process shutdown (SIGTERM, SIGINT) aborts every request and retry wait at once.
    const signal = anySignal(this.options.signal ?? shutdown.signal, req.signal);
    req = { ...req, url: this.checkUrl(req) };
    const responseType = req.responseType ?? 'json';
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw cancelled(req);
      let answer: Answer | undefined;
      let networkError: Error | undefined;
      try {
        answer = await this.attempt(req, signal);
      } catch (err) {
        if (signal?.aborted) throw cancelled(req);
        if (err instanceof ConnectorError) throw err;
        networkError = err as Error;
      }
      const res = answer?.res;
      if (networkError && req.unsafeToRepeat && !NOT_SENT.has(errorCode(networkError) ?? '')) {
        throw new MaybeReceived(
          `${req.what} failed: ${describeNetworkError(networkError)}. It is not sent again, since the vendor may have received it; the next sync continues.`,
          `${req.method} ${safeUrl(req.url)}`,
        );
      }
      const retryable =
        networkError !== undefined ||
        (res !== undefined &&
          RETRYABLE_STATUS(res.status) &&
          !(req.unsafeToRepeat && res.status >= 500) &&
          !req.isFinal?.(res.status, typeof res.data === 'string' ? res.data : ''));
      if (!retryable && answer) return this.finish<T>(req, answer, responseType);
      const reason = networkError ? describeNetworkError(networkError) : `HTTP ${res!.status}`;
      if (res) discard(res);
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
          `${req.method} ${safeUrl(req.url)}`,
        );
      }
      this.logger.warn(
        `${req.what}: ${reason}; retry ${attempt} of ${this.retry.maxAttempts - 1} in ${(delay / 1000).toFixed(1)} s (${req.method} ${safeUrl(req.url)}).`,
      );
      waited += delay;
      await this.pause(delay, signal);
    }
  }

  /** Every wait of the client, in one place. */
  private pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return this.options.clock.sleep(ms, signal);
  }

  /**
   * The URL to request: refused when the policy refuses it (a vendor's URL also by an IP literal
   * of an internal address); a vendor's http file link (`credentials: false`) upgraded to https.
   */
  private checkUrl(req: HttpRequest): string {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw refused(req, 'the URL', req.url, 'it is not a valid URL');
    }
    if (req.credentials === false) url = this.policy.upgraded(url);
    const problem = this.policy.isApiOrigin(url)
      ? this.policy.requestProblem(url)
      : this.policy.vendorProblem(url);
    if (problem) throw refused(req, urlKind(req), url.href, problem);
    return url.href;
  }

  /** One try, redirects included, within its deadline. */
  private async attempt(req: HttpRequest, signal: AbortSignal | undefined): Promise<Answer> {
    const deadlineMs = req.deadlineMs ?? this.options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), deadlineMs);
    try {
      // A non-stream body is read before axios resolves, so the deadline covers it too.
      return await this.follow(req, anySignal(signal, deadline.signal)!);
    } catch (err) {
      if (deadline.signal.aborted && !signal?.aborted) throw deadlineError(deadlineMs);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends the request and follows its redirects, each hop checked by the URL policy and sent
   * without credentials. Only GET and HEAD are followed: a POST body may carry a secret
   * (Pushwoosh's token), and a 3xx to a POST goes back to the caller.
   */
  private async follow(req: HttpRequest, signal: AbortSignal): Promise<Answer> {
    let url = req.url;
    let res = await this.send(req, { url, headers: this.headersFor(req), first: true }, signal);
    for (let hops = 0; ; hops++) {
      const next = redirectTarget(req, res, url);
      if (!next) return { res, url };
      discard(res);
      if (hops === MAX_REDIRECTS) {
        throw systemError(
          `${req.what}: gave up after ${MAX_REDIRECTS} redirects in a row.`,
          `${req.method} ${safeUrl(req.url)}`,
        );
      }
      const problem = this.policy.redirectProblem(new URL(url), next);
      if (problem) throw refused(req, 'the redirect to', next.href, problem);
      url = next.href;
      const headers = redirectHeaders(req.headers, this.options.credential);
      res = await this.send(req, { url, headers, first: false }, signal);
    }
  }

  private async send(
    req: HttpRequest,
    hop: { url: string; headers: Record<string, string>; first: boolean },
    signal: AbortSignal,
  ): Promise<AxiosResponse> {
    try {
      return await this.axios.request({
        method: req.method,
        url: hop.url,
        headers: hop.headers,
        // A redirect's Location is the whole next URL, and only GET and HEAD are redirected.
        params: hop.first ? req.params : undefined,
        data: hop.first ? req.data : undefined,
        timeout: req.timeoutMs,
        signal,
        responseType: req.responseType === 'stream' ? 'stream' : 'text',
        // A JSON or text answer is held in memory: reading stops at the cap. Files stream.
        maxContentLength: req.responseType === 'stream' ? -1 : this.maxAnswerBytes,
        transformResponse: (d: unknown) => d,
        // Only the first hop to the configured API origin is not the vendor's URL.
        ...(hop.first && this.policy.isApiOrigin(new URL(hop.url))
          ? this.agents
          : this.checkedAgents),
      });
    } catch (err) {
      throw this.permanentError(req, hop, err) ?? err;
    }
  }

  private get maxAnswerBytes(): number {
    return this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  }

  /** A network error no retry can fix, as the error to throw; undefined for the others. */
  private permanentError(
    req: HttpRequest,
    hop: { url: string; first: boolean },
    err: unknown,
  ): ConnectorError | undefined {
    const url = hop.url;
    const refusal = policyErrorOf(err);
    if (refusal) {
      return refused(req, hop.first ? urlKind(req) : 'the redirect to', url, refusal.message);
    }
    if (isOversize(err)) {
      return systemError(
        `${req.what}: the answer is larger than ${formatBytes(this.maxAnswerBytes)}, the most this connector reads of a JSON or text answer; it was not read further and is not retried.`,
        `${req.method} ${safeUrl(url)}`,
      );
    }
    const u = new URL(url);
    const problem = permanentProblem(err, u.host);
    if (!problem) return undefined;
    const internal = `${req.method} ${safeUrl(url)}`;
    if (this.policy.isApiOrigin(u)) {
      const field = this.options.apiUrlField ?? 'the API URL';
      return configError(
        `${req.what} failed: ${problem}; it is not retried. Check ${field}.`,
        internal,
      );
    }
    return systemError(`${req.what} failed: ${problem}; it is not retried.`, internal);
  }

  private headersFor(req: HttpRequest): Record<string, string> {
    const headers: Record<string, string> = { ...req.headers };
    const cred = this.options.credential;
    if (cred && req.credentials !== false) {
      const u = new URL(req.url);
      if (u.origin === cred.origin || (u.protocol === 'https:' && cred.alsoFor?.(u)))
        Object.assign(headers, cred.headers);
    }
    return headers;
  }

  private delayFor(attempt: number, res: AxiosResponse | undefined): number {
    const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = backoff / 2 + (Math.random() * backoff) / 2;
    const after = res ? retryAfterMs(res.headers['retry-after']) : undefined;
    return after === undefined ? jittered : Math.max(after, jittered);
  }

  private finish<T>(req: HttpRequest, answer: Answer, responseType: string): HttpResponse<T> {
    const { res, url } = answer;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
    const ok = res.status >= 200 && res.status < 300;
    const download = responseType === 'stream' || req.credentials === false;
    let data: unknown = res.data;
    if (download && !ok) data = withoutBody(res);
    else if (responseType === 'stream') {
      data = watchThroughput(
        res.data as Readable,
        this.options.minThroughput ?? DEFAULT_MIN_THROUGHPUT,
      );
    } else if (responseType === 'json') data = parseJson(req, res.status, data, download);
    return { status: res.status, headers, data: data as T, url };
  }
}

function agents(options: http.AgentOptions & https.AgentOptions): Agents {
  return {
    httpAgent: new http.Agent({ keepAlive: true, ...options }),
    httpsAgent: new https.Agent({ keepAlive: true, ...options }),
  };
}

/** The signal that aborts when any of `signals` does. */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}

function cancelled(req: HttpRequest): ConnectorError {
  return transientError(`${req.what} was cancelled.`, `${req.method} ${safeUrl(req.url)}`);
}

/** How an error names a request's own URL: a download's is a file URL. */
const urlKind = (req: HttpRequest) => (req.credentials === false ? 'the file URL' : 'the URL');

function refused(req: HttpRequest, target: string, url: string, problem: string): ConnectorError {
  return systemError(
    `${req.what}: ${target} ${safeUrl(url)} is refused: ${problem}.`,
    `${req.method} ${safeUrl(req.url)}`,
  );
}

/** Where a redirect answer leads, if it is one this client follows. */
function redirectTarget(req: HttpRequest, res: AxiosResponse, url: string): URL | undefined {
  if (!REDIRECT_STATUS.has(res.status) || (req.method !== 'GET' && req.method !== 'HEAD')) {
    return undefined;
  }
  const location: unknown = res.headers.location;
  if (typeof location !== 'string' || location === '') return undefined;
  try {
    return new URL(location, url);
  } catch {
    return undefined;
  }
}

/** The caller's headers for a redirect hop: no credential, nothing that looks like one. */
function redirectHeaders(
  headers: Record<string, string> = {},
  credential: Credential | undefined,
): Record<string, string> {
  const own = new Set(Object.keys(credential?.headers ?? {}).map((k) => k.toLowerCase()));
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !own.has(k.toLowerCase()) && !SECRET_HEADER.test(k)),
  );
}

/** axios's refusal of an answer past `maxContentLength` (it stops reading there). */
function isOversize(err: unknown): boolean {
  return (
    err instanceof AxiosError &&
    err.code === AxiosError.ERR_BAD_RESPONSE &&
    err.message.startsWith('maxContentLength size of ')
  );
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Drops an answer's body that will not be read. */
function discard(res: AxiosResponse): void {
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

/** Retry-After in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** The start of a body for an error message: one line, bounded. */
export function snippet(body: unknown, max = 300): string {
  const text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
  // Redacted before it is cut, so no half of a secret survives the cut.
  return clip(text.replace(/\s+/g, ' ').trim(), max) || '(empty)';
}
