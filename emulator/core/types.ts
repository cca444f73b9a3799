/** Types shared by the emulator core and the vendor modules: requests, answers, the Fault union. */

export interface ApnsTeamFixture {
  teamId: string;
  bundleId: string;
  tokens: {
    deliverymetrics?: string;
    broadcastapplicationmetric?: string;
    broadcastchannelmetrics?: string;
  };
  channelIds: string[];
}

/**
 * Origins written into the URLs the emulator hands out, instead of its own listeners': `status`
 * for APNs status URLs, `files` for every file link (APNs dataUrl, OneSignal csv_file_url,
 * Pushwoosh tracking-log link). E.g. `https://10.0.0.1` (an internal address), or the files
 * listener's origin spelled `http://` while it speaks https.
 */
export interface HandedOutOrigins {
  status?: string;
  files?: string;
}

export type Origin = 'api' | 'files';

/** A request as the emulator logs it, with the route it matched and the status it got. */
export interface RecordedRequest extends EmuRequest {
  route: string;
  status: number;
  /** Real wall-clock epoch ms (not the `now` option), so tests can measure waits. */
  at: number;
}

export type MalformedCsvVariant =
  | 'bad_count'
  | 'bad_date'
  | 'unterminated_quote'
  | 'extra_column'
  | 'missing_column'
  | 'bad_timestamp'
  /** The file holds a tenth of the rows its message's counts promise. */
  | 'short_file'
  /** A 200 with an empty body: not even a header row (a cut answer, an unwritten object). */
  | 'empty_body'
  /** A text that is not the export at all (an error page, a credential) instead of the file. */
  | 'foreign_text'
  /** Most rows have a value that does not convert (a count or time), as after a format change. */
  | 'mostly_bad'
  /** APNs delivery metrics: an extra `Environment` column splits each row in two. */
  | 'environment_column';

export type Fault =
  | { kind: 'rate_limit'; route: string; times?: number; retryAfterSeconds?: number }
  | { kind: 'server_error'; route: string; times?: number; status?: number }
  | { kind: 'reset_mid_body'; route: string; times?: number }
  | { kind: 'truncated_body'; route: string; times?: number }
  // The body comes one byte every `intervalMs` (default 1000) after the headers.
  | { kind: 'drip_body'; route: string; intervalMs?: number; times?: number }
  // The route answers `status` (default 302) with this Location instead of its own answer.
  | { kind: 'redirect'; route: string; location: string; status?: RedirectStatus; times?: number }
  // The whole answer, headers included, comes `ms` later; with `pathIncludes`, only for a request
  // whose path holds that text (one app's requests, say).
  | { kind: 'delay'; route: string; ms: number; times?: number; pathIncludes?: string }
  | { kind: 'export_failed'; times?: number }
  | { kind: 'export_expired'; times?: number }
  | { kind: 'download_url_expired'; times?: number }
  | { kind: 'malformed_csv'; variant: MalformedCsvVariant; times?: number }
  // Pushwoosh: the next tracking-log job stays pending `polls` more getResults calls.
  | { kind: 'pushwoosh_pending'; polls: number; times?: number }
  // Pushwoosh: the next getMessageLog page that was asked with a token hands the same token back.
  | { kind: 'pushwoosh_repeat_token'; times?: number }
  // Pushwoosh: the next call on `route` answers status_code 210 with `message`.
  | { kind: 'pushwoosh_argument_error'; route: string; message?: string; times?: number }
  | { kind: 'malformed_zip'; variant: MalformedZipVariant; times?: number }
  // OneSignal: the next export_events starts the export, yet answers `status` (default 502).
  | { kind: 'onesignal_export_lost'; status?: number; times?: number };

export type MalformedZipVariant =
  | 'truncated_entry'
  | 'bad_crc'
  | 'truncated_archive'
  | 'bad_payload'
  | 'bad_timestamp'
  /** A 200 with an empty body instead of the ZIP. */
  | 'empty_body'
  /** A text that is not the export (see FOREIGN_TEXT) instead of the ZIP. */
  | 'foreign_text'
  /** Most rows' timestamps cannot be read. */
  | 'bad_timestamps'
  /** The CSV split into two entries, each with the header. */
  | 'two_entries';

/** What `foreign_text` serves: secret-looking text that must never appear in an error. */
export const FOREIGN_TEXT = 'sk_live_FOREIGN7c0ffee1dea5ecret9Z;token=AAAA-BBBB-CCCC\n';

export type RedirectStatus = 301 | 302 | 303 | 307 | 308;

export type FaultKind = Fault['kind'];

/** A request as route handlers see it (body fully read). */
export interface EmuRequest {
  origin: Origin;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Gzip the body when the client's Accept-Encoding allows it. */
  compressible?: boolean;
  /** Stream this file from disk with its Content-Length instead of `body` (never compressed). */
  file?: string;
  /** Called once the whole body has been written to the client; not after a cut fault. */
  onSent?: () => void;
}
