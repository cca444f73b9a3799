import { UrlPolicyError } from './urls';

/** Certificate failures that no retry can fix (the OpenSSL verify codes Node reports). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The errors of `err`, outermost first (axios wraps the socket's error as `cause`). */
function chain(err: unknown): Error[] {
  const out: Error[] = [];
  for (let e = err; e instanceof Error && out.length < 5; e = e.cause) out.push(e);
  return out;
}

export function errorCode(err: unknown): string | undefined {
  return chain(err)
    .map((e) => (e as { code?: unknown }).code)
    .find((c): c is string => typeof c === 'string');
}

export function policyErrorOf(err: unknown): UrlPolicyError | undefined {
  return chain(err).find((e): e is UrlPolicyError => e instanceof UrlPolicyError);
}

/**
 * What makes a network error permanent, in words: a TLS certificate that is not valid, or a
 * host that DNS does not know. Undefined for errors worth retrying (ECONNRESET, EAI_AGAIN, …).
 */
export function permanentProblem(err: unknown, host: string): string | undefined {
  const code = errorCode(err);
  if (code === 'ENOTFOUND') return `the host ${host} is unknown to DNS (ENOTFOUND)`;
  if (code && (code.startsWith('CERT_') || CERTIFICATE_CODES.has(code))) {
    return `the TLS certificate of ${host} is not valid (${code}: ${(err as Error).message})`;
  }
  return undefined;
}

export function describeNetworkError(err: Error): string {
  const code = errorCode(err);
  return code ? `network error ${code} (${err.message})` : `network error (${err.message})`;
}

/** A try that ran out of time; retried like any timeout. */
export function deadlineError(deadlineMs: number): Error {
  return Object.assign(new Error(`no complete answer within ${deadlineMs / 1000} s`), {
    code: 'ETIMEDOUT',
  });
}
