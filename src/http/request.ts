import type { AxiosResponse } from 'axios';

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

/** One answer, and the URL that gave it. */
export interface Answer {
  res: AxiosResponse;
  url: string;
}
