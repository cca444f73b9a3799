import { ConnectorError, configError, systemError, transientError } from '../airbyte/errors';
import { formatBytes, isOversize } from './answer';
import { permanentProblem, policyErrorOf } from './network';
import { refused, urlKind } from './refusals';
import type { HttpRequest } from './request';
import { safeUrl, type UrlPolicy } from './urls';

/** An unsafe request (see HttpRequest.unsafeToRepeat) that the vendor may have received. */
export class MaybeReceived extends ConnectorError {
  constructor(message: string, internal?: string) {
    super(message, 'transient_error', internal);
    this.name = 'MaybeReceived';
  }
}

export function cancelled(req: HttpRequest): ConnectorError {
  return transientError(`${req.what} was cancelled.`, `${req.method} ${safeUrl(req.url)}`);
}

/** A network error no retry can fix, as the error to throw; undefined for the others. */
export function permanentError(
  req: HttpRequest,
  hop: { url: string; first: boolean },
  err: unknown,
  client: { policy: UrlPolicy; maxAnswerBytes: number; apiUrlField?: string },
): ConnectorError | undefined {
  const url = hop.url;
  const refusal = policyErrorOf(err);
  if (refusal) {
    return refused(req, hop.first ? urlKind(req) : 'the redirect to', url, refusal.message);
  }
  if (isOversize(err)) {
    return systemError(
      `${req.what}: the answer is larger than ${formatBytes(client.maxAnswerBytes)}, the most this connector reads of a JSON or text answer; it was not read further and is not retried.`,
      `${req.method} ${safeUrl(url)}`,
    );
  }
  const u = new URL(url);
  const problem = permanentProblem(err, u.host);
  if (!problem) return undefined;
  const internal = `${req.method} ${safeUrl(url)}`;
  if (client.policy.isApiOrigin(u)) {
    const field = client.apiUrlField ?? 'the API URL';
    return configError(
      `${req.what} failed: ${problem}; it is not retried. Check ${field}.`,
      internal,
    );
  }
  return systemError(`${req.what} failed: ${problem}; it is not retried.`, internal);
}
