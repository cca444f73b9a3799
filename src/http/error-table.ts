import { ConnectorError, type FailureType } from '../airbyte/errors';

/** What a vendor said: the HTTP status, its body, and the reason in words (vendor-specific). */
export interface VendorAnswer {
  status: number;
  body: unknown;
  reason: string;
}

/** One row of a vendor's error table: which answers it covers, and what they mean. */
export interface ErrorRule {
  status: number | readonly number[];
  /** Narrows the row to some answers (e.g. a 404 about a channel). */
  when?: (answer: VendorAnswer) => boolean;
  failure: FailureType;
  message: (answer: VendorAnswer) => string;
}

/**
 * One table per vendor call family, from an answer that is not a success to a user-facing error
 * and its failure type (cf. the Python CDK's default error mapping). The first matching row wins;
 * `fallback` covers the rest. Retryable answers (429, 5xx) never get here: the HTTP client
 * retries them first.
 */
export function errorFor(
  rules: readonly ErrorRule[],
  answer: VendorAnswer,
  fallback: (answer: VendorAnswer) => string,
): ConnectorError {
  for (const rule of rules) {
    const statuses = typeof rule.status === 'number' ? [rule.status] : rule.status;
    if (statuses.includes(answer.status) && (rule.when?.(answer) ?? true))
      return new ConnectorError(rule.message(answer), rule.failure);
  }
  return new ConnectorError(fallback(answer), 'system_error');
}
