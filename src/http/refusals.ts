import { type ConnectorError, systemError } from '../airbyte/errors';
import type { HttpRequest } from './request';
import { safeUrl, type UrlPolicy } from './urls';

/** How an error names a request's own URL: a download's is a file URL. */
export const urlKind = (req: HttpRequest) =>
  req.credentials === false ? 'the file URL' : 'the URL';

export function refused(
  req: HttpRequest,
  target: string,
  url: string,
  problem: string,
): ConnectorError {
  return systemError(
    `${req.what}: ${target} ${safeUrl(url)} is refused: ${problem}.`,
    `${req.method} ${safeUrl(req.url)}`,
  );
}

/**
 * The URL to request: refused when the policy refuses it (a vendor's URL also by an IP literal
 * of an internal address); a vendor's http file link (`credentials: false`) upgraded to https.
 */
export function checkRequestUrl(req: HttpRequest, policy: UrlPolicy): string {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw refused(req, 'the URL', req.url, 'it is not a valid URL');
  }
  if (req.credentials === false) url = policy.upgraded(url);
  const problem = policy.isApiOrigin(url) ? policy.requestProblem(url) : policy.vendorProblem(url);
  if (problem) throw refused(req, urlKind(req), url.href, problem);
  return url.href;
}
