import type { HttpRequest } from './request';

/** Headers that authenticate one API, sent only to requests for that API's origin. */
export interface Credential {
  origin: string;
  headers: Record<string, string>;
  /** Other https hosts of the same vendor that may receive it (e.g. a status URL's host). */
  alsoFor?: (url: URL) => boolean;
}

/** Request headers a redirect hop never carries, besides the credential's own. */
const SECRET_HEADER = /^(cookie|proxy-authorization)$|auth|token|secret|key|signature|session/i;

/** The first hop's headers: the caller's, and the credential when the URL is its API's. */
export function firstHopHeaders(
  req: HttpRequest,
  credential: Credential | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { ...req.headers };
  if (credential && req.credentials !== false) {
    const u = new URL(req.url);
    if (u.origin === credential.origin || (u.protocol === 'https:' && credential.alsoFor?.(u)))
      Object.assign(headers, credential.headers);
  }
  return headers;
}

/** The caller's headers for a redirect hop: no credential, nothing that looks like one. */
export function redirectHeaders(
  headers: Record<string, string> = {},
  credential: Credential | undefined,
): Record<string, string> {
  const own = new Set(Object.keys(credential?.headers ?? {}).map((k) => k.toLowerCase()));
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !own.has(k.toLowerCase()) && !SECRET_HEADER.test(k)),
  );
}
