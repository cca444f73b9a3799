import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { ConnectorError, transientError } from '../airbyte/errors';
import type { Logger } from '../airbyte/logger';
import type { Clock } from '../util/clock';
import { shutdown } from '../util/shutdown';
import { discard, MAX_ANSWER_BYTES, toResponse } from './answer';
import type { Credential } from './credentials';
import { anySignal, DEFAULT_DEADLINE_MS, withinDeadline } from './deadline';
import { cancelled, MaybeReceived, permanentError } from './failures';
import { describeNetworkError } from './network';
import { followRedirects, type Hop } from './redirects';
import { checkRequestUrl } from './refusals';
import type { Answer, HttpRequest, HttpResponse } from './request';
import {
  DEFAULT_RETRY,
  retriesExhausted,
  retryDecision,
  retryDelay,
  type RetryPolicy,
} from './retry';
import { DEFAULT_MIN_THROUGHPUT, type MinThroughput } from './throughput';
import { safeUrl, STRICT_URL_POLICY, type UrlPolicy, urlPolicyFor } from './urls';

// The client composes one file per concern: the URL policy (urls.ts, refusals.ts), credentials
// and redirects, the deadline of a try, the retry decisions and waits, and the answer's reading.
export { snippet } from './answer';
export type { Credential } from './credentials';
export { MaybeReceived } from './failures';
export type { HttpRequest, HttpResponse } from './request';
export { retryAfterMs, type RetryPolicy } from './retry';

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
      // Redirects are followed by `followRedirects`, which checks each hop.
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
    req = { ...req, url: checkRequestUrl(req, this.policy) };
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
      const decision = retryDecision(
        req,
        networkError
          ? { networkError }
          : { status: res!.status, body: typeof res!.data === 'string' ? res!.data : '' },
      );
      if (decision === 'maybe-received') {
        throw new MaybeReceived(
          `${req.what} failed: ${describeNetworkError(networkError!)}. It is not sent again, since the vendor may have received it; the next sync continues.`,
          `${req.method} ${safeUrl(req.url)}`,
        );
      }
      if (decision === 'return' && answer) {
        return toResponse<T>(
          req,
          answer,
          responseType,
          this.options.minThroughput ?? DEFAULT_MIN_THROUGHPUT,
        );
      }
      const reason = networkError ? describeNetworkError(networkError) : `HTTP ${res!.status}`;
      if (res) discard(res);
      const delay = retryDelay(this.retry, attempt, res?.headers['retry-after']);
      if (retriesExhausted(this.retry, attempt, waited, delay)) {
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

  /** One try, redirects included, within its deadline. */
  private attempt(req: HttpRequest, signal: AbortSignal | undefined): Promise<Answer> {
    const deadlineMs = req.deadlineMs ?? this.options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    // A non-stream body is read before axios resolves, so the deadline covers it too.
    return withinDeadline(deadlineMs, signal, (trySignal) =>
      followRedirects(req, this.policy, this.options.credential, (hop) =>
        this.send(req, hop, trySignal),
      ),
    );
  }

  private async send(req: HttpRequest, hop: Hop, signal: AbortSignal): Promise<AxiosResponse> {
    const maxAnswerBytes = this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
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
        maxContentLength: req.responseType === 'stream' ? -1 : maxAnswerBytes,
        transformResponse: (d: unknown) => d,
        // Only the first hop to the configured API origin is not the vendor's URL.
        ...(hop.first && this.policy.isApiOrigin(new URL(hop.url))
          ? this.agents
          : this.checkedAgents),
      });
    } catch (err) {
      throw (
        permanentError(req, hop, err, {
          policy: this.policy,
          maxAnswerBytes,
          apiUrlField: this.options.apiUrlField,
        }) ?? err
      );
    }
  }
}

function agents(options: http.AgentOptions & https.AgentOptions): Agents {
  return {
    httpAgent: new http.Agent({ keepAlive: true, ...options }),
    httpsAgent: new https.Agent({ keepAlive: true, ...options }),
  };
}
