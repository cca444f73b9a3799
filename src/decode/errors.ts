import { ConnectorError, FailureType } from '../airbyte/errors';

/**
 * A vendor file we cannot read: corrupt, truncated, too large or not in the expected shape.
 * Defaults to `system_error` because the input is bad, not the user's configuration.
 */
export class DecodeError extends ConnectorError {
  constructor(
    message: string,
    failureType: FailureType = 'system_error',
    internalMessage?: string,
  ) {
    super(message, failureType, internalMessage);
    this.name = 'DecodeError';
  }
}

const MAX_QUOTED = 80;

/** A value as it appears in error messages: JSON-quoted, shortened so a huge field cannot flood logs. */
export function quoteValue(value: string): string {
  if (value.length <= MAX_QUOTED) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_QUOTED))}… (${value.length} characters)`;
}

/** `1048576` -> `1048576 bytes (1 MiB)`: exact for grepping, rounded for reading. */
export function describeBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${+v.toFixed(1)} ${unit})` : `${n} bytes`;
}
