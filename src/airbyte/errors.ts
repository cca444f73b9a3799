/** Airbyte's failure types: they decide whether the platform retries and whom it blames. */
export type FailureType = 'config_error' | 'transient_error' | 'system_error';

/**
 * An error whose message is meant for the user. Everything the connector throws on purpose is one
 * of these; anything else is reported as a `system_error` with its own message.
 */
export class ConnectorError extends Error {
  constructor(
    message: string,
    readonly failureType: FailureType,
    /** Detail for the TRACE's `internal_message` (still redacted before output). */
    readonly internalMessage?: string,
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}

export const configError = (message: string, internal?: string): ConnectorError =>
  new ConnectorError(message, 'config_error', internal);
export const transientError = (message: string, internal?: string): ConnectorError =>
  new ConnectorError(message, 'transient_error', internal);
export const systemError = (message: string, internal?: string): ConnectorError =>
  new ConnectorError(message, 'system_error', internal);

/** Wraps anything thrown into a ConnectorError, keeping a ConnectorError as it is. */
export function asConnectorError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  return new ConnectorError(`Unexpected error: ${e.message}`, 'system_error', e.stack);
}
