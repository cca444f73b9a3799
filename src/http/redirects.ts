import type { AxiosResponse } from 'axios';
import { systemError } from '../airbyte/errors';
import { discard } from './answer';
import { type Credential, firstHopHeaders, redirectHeaders } from './credentials';
import { refused } from './refusals';
import type { Answer, HttpRequest } from './request';
import { safeUrl, type UrlPolicy } from './urls';

/** Redirect hops followed for one request. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** One request on the wire; only the first hop carries the request's params and body. */
export interface Hop {
  url: string;
  headers: Record<string, string>;
  first: boolean;
}

/**
 * Sends the request and follows its redirects, each hop checked by the URL policy and sent
 * without credentials. Only GET and HEAD are followed: a POST body may carry a secret
 * (Pushwoosh's token), and a 3xx to a POST goes back to the caller.
 */
export async function followRedirects(
  req: HttpRequest,
  policy: UrlPolicy,
  credential: Credential | undefined,
  send: (hop: Hop) => Promise<AxiosResponse>,
): Promise<Answer> {
  let url = req.url;
  let res = await send({ url, headers: firstHopHeaders(req, credential), first: true });
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
    const problem = policy.redirectProblem(new URL(url), next);
    if (problem) throw refused(req, 'the redirect to', next.href, problem);
    url = next.href;
    res = await send({ url, headers: redirectHeaders(req.headers, credential), first: false });
  }
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
