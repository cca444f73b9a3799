/** The OneSignal fixture shapes (apart from the module, so that its fixtures need not import it). */

export interface OneSignalMessageFixture {
  id: string;
  /**
   * Unix seconds; a fraction is OneSignal's precise send time (microseconds), which orders the
   * listing and its next_time_offset token, while `send_after` is listed in whole seconds.
   */
  sendAfter: number;
  /** Unix seconds; defaults to sendAfter (earlier for a scheduled message). */
  queuedAt?: number;
  completedAt: number | null;
  /** null while the audience is still being processed. */
  remaining: number | null;
  /** Rows in its export file. */
  events: number;
  channel?: 'push' | 'email' | 'sms';
  /**
   * Real ms from an export request to its file being ready; default `events / recordsPerSecond`.
   * Read at every download attempt, so a test may change it while exports run (hold a file back
   * with a large value, then release it).
   */
  generationMs?: number;
  /** Generate the export file when the emulator starts, not when first requested. */
  pregenerate?: boolean;
  /** The `kind` filter of View messages: 0 dashboard, 1 API, 3 automated; default 1. */
  kind?: 0 | 1 | 3;
  /** A canceled message (with `completedAt: null` and `remaining` > 0, it never finishes). */
  canceled?: boolean;
}

export interface OneSignalAppFixture {
  appId: string;
  apiKey: string;
  messages: OneSignalMessageFixture[];
}

export interface OneSignalAccountFixture {
  accountId: string;
  apps: OneSignalAppFixture[];
}
