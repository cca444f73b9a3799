import type { Fault, FaultKind, MalformedCsvVariant, MalformedZipVariant } from './types';

const REDIRECT_STATUSES: readonly number[] = [301, 302, 303, 307, 308];

const ROUTE_FAULTS = [
  'rate_limit',
  'server_error',
  'reset_mid_body',
  'truncated_body',
  'drip_body',
  'redirect',
  'delay',
] as const;
const MALFORMED_VARIANTS: MalformedCsvVariant[] = [
  'bad_count',
  'bad_date',
  'unterminated_quote',
  'extra_column',
  'missing_column',
  'bad_timestamp',
  'short_file',
  'empty_body',
  'foreign_text',
  'mostly_bad',
  'environment_column',
];

export const PUSHWOOSH_FAULT_KINDS = [
  'pushwoosh_pending',
  'pushwoosh_argument_error',
  'pushwoosh_repeat_token',
  'malformed_zip',
] as const;
const MALFORMED_ZIP_VARIANTS: MalformedZipVariant[] = [
  'truncated_entry',
  'bad_crc',
  'truncated_archive',
  'bad_payload',
  'bad_timestamp',
  'empty_body',
  'foreign_text',
  'bad_timestamps',
  'two_entries',
];

/** Checks the Pushwoosh fault kinds' own fields (validateFault has checked `kind` and `times`). */
export function validatePushwooshFault(f: Record<string, unknown>): void {
  if (f.kind === 'pushwoosh_pending') {
    const p = f.polls;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1) {
      throw new Error('pushwoosh_pending needs polls, a positive integer');
    }
  }
  if (f.kind === 'pushwoosh_argument_error') {
    if (typeof f.route !== 'string' || !f.route) {
      throw new Error('pushwoosh_argument_error needs a route');
    }
    if (f.message !== undefined && typeof f.message !== 'string') {
      throw new Error('pushwoosh_argument_error message must be a string');
    }
  }
  if (
    f.kind === 'malformed_zip' &&
    !MALFORMED_ZIP_VARIANTS.includes(f.variant as MalformedZipVariant)
  ) {
    throw new Error(`unknown malformed_zip variant ${JSON.stringify(f.variant)}`);
  }
}

/** `'*'` matches every known route, `'apns.*'` every route of a vendor. */
export function routeMatches(pattern: string, route: string): boolean {
  if (route === 'unknown') return pattern === 'unknown';
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return route.startsWith(pattern.slice(0, -1));
  return pattern === route;
}

/** Throws a readable error for anything that is not a well-formed Fault. */
export function validateFault(input: unknown): Fault {
  if (!input || typeof input !== 'object') throw new Error('fault must be an object');
  const f = input as Record<string, unknown>;
  const kinds: string[] = [
    ...ROUTE_FAULTS,
    'export_failed',
    'export_expired',
    'download_url_expired',
    'malformed_csv',
    'onesignal_export_lost',
    ...PUSHWOOSH_FAULT_KINDS,
  ];
  if (typeof f.kind !== 'string' || !kinds.includes(f.kind)) {
    throw new Error(`unknown fault kind ${JSON.stringify(f.kind)}`);
  }
  if (f.times !== undefined) {
    const t = f.times;
    if (typeof t !== 'number' || !(t === Infinity || (Number.isInteger(t) && t >= 1))) {
      throw new Error('times must be a positive integer');
    }
  }
  if ((ROUTE_FAULTS as readonly string[]).includes(f.kind)) {
    if (typeof f.route !== 'string' || !f.route) throw new Error(`${f.kind} needs a route`);
  }
  if (f.kind === 'rate_limit' && f.retryAfterSeconds !== undefined) {
    const r = f.retryAfterSeconds;
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0) {
      throw new Error('retryAfterSeconds must be a non-negative integer');
    }
  }
  if ((f.kind === 'server_error' || f.kind === 'onesignal_export_lost') && f.status !== undefined) {
    const s = f.status;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 500 || s > 599) {
      throw new Error('status must be an integer 500..599');
    }
  }
  if (
    f.kind === 'malformed_csv' &&
    !MALFORMED_VARIANTS.includes(f.variant as MalformedCsvVariant)
  ) {
    throw new Error(`unknown malformed_csv variant ${JSON.stringify(f.variant)}`);
  }
  validateHostileFault(f);
  validatePushwooshFault(f);
  return input as Fault;
}

/** The fields of the faults that test the connector's HTTP client: drips, redirects, delays. */
function validateHostileFault(f: Record<string, unknown>): void {
  if (f.kind === 'drip_body' && f.intervalMs !== undefined) {
    integerIn('intervalMs', f.intervalMs, 1, 60_000);
  }
  if (f.kind === 'delay') {
    integerIn('ms', f.ms, 0, 600_000);
    if (f.pathIncludes !== undefined && (typeof f.pathIncludes !== 'string' || !f.pathIncludes)) {
      throw new Error('pathIncludes must be a non-empty string');
    }
  }
  if (f.kind !== 'redirect') return;
  if (typeof f.location !== 'string' || !URL.canParse(f.location, 'http://emulator.invalid')) {
    throw new Error('redirect needs a location (a URL)');
  }
  if (f.status !== undefined && !REDIRECT_STATUSES.includes(f.status as number)) {
    throw new Error(`redirect status must be one of ${REDIRECT_STATUSES.join(', ')}`);
  }
}

function integerIn(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer ${min}..${max}`);
  }
}

/** Pending faults, consumed first-in first-out by the requests they match. */
export class FaultRegistry {
  private entries: { fault: Fault; left: number }[] = [];

  add(fault: Fault): void {
    validateFault(fault);
    this.entries.push({ fault: { ...fault }, left: fault.times ?? 1 });
  }

  clear(): void {
    this.entries = [];
  }

  pending(): Fault[] {
    return this.entries.map((e) => ({ ...e.fault, times: e.left }));
  }

  /** Consumes one use of the oldest fault of one of `kinds` that passes `pred`. */
  take<K extends FaultKind>(
    kinds: readonly K[],
    pred: (f: Extract<Fault, { kind: K }>) => boolean = () => true,
  ): Extract<Fault, { kind: K }> | undefined {
    const i = this.entries.findIndex(
      (e) =>
        (kinds as readonly string[]).includes(e.fault.kind) &&
        pred(e.fault as Extract<Fault, { kind: K }>),
    );
    if (i < 0) return undefined;
    const e = this.entries[i];
    e.left -= 1;
    if (e.left <= 0) this.entries.splice(i, 1);
    return e.fault as Extract<Fault, { kind: K }>;
  }

  /** The route-level fault (if any) for a request on `route` with this path. */
  takeForRoute(route: string, path: string) {
    return this.take(
      ROUTE_FAULTS,
      (f) =>
        routeMatches(f.route, route) &&
        !(f.kind === 'delay' && f.pathIncludes && !path.includes(f.pathIncludes)),
    );
  }
}
