import { DEFAULT_APNS_APPS, DEFAULT_PUSHWOOSH_ACCOUNT } from '../emulator/fixtures';
import type { OneSignalAccountFixture, OneSignalMessageFixture } from '../emulator/onesignal';
import { pushwooshApplications } from '../emulator/pushwoosh';
import type { ApnsTeamFixture, Fault } from '../emulator/server';
import { Rng } from './rng';

/**
 * A seed's plan: the vendors' data and states, the faults, and the syncs of the chain with where
 * each is stopped. Everything random is drawn here, from the seed, before anything runs.
 *
 * Extending it: a new vendor state or fault is one entry of VENDOR_STATES (it edits the draft:
 * fixtures, config, emulator options, faults for some sync, what the checks must allow); a new
 * way to stop a sync is one entry of STOP_POINTS (and its trigger in run.ts).
 */

export type Provider = 'apns' | 'onesignal' | 'pushwoosh';

export const STREAMS_OF: Record<Provider, string[]> = {
  apns: ['apns_delivery_metrics', 'apns_broadcast_app', 'apns_broadcast_channel'],
  onesignal: ['onesignal_message_events', 'onesignal_messages'],
  pushwoosh: ['pushwoosh_tracking'],
};

export type ApnsTokenField =
  'deliverymetrics' | 'broadcastapplicationmetric' | 'broadcastchannelmetrics';

export interface OneSignalAppPlan {
  appId: string;
  /** The key the config carries (a wrong one when the app's key was revoked). */
  apiKey: string;
  account: string;
  revoked: boolean;
}

export interface Stop {
  signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL';
  /** A STOP_POINTS name. */
  at: string;
  /** The n-th occurrence of the point's event in that sync. */
  n: number;
  /** Real ms between the event and the signal. */
  delayMs: number;
}

export interface Scenario {
  seed: number;
  /** Unix seconds the plan was drawn at: message send times hang off it. */
  nowS: number;
  windowDays: number;
  lookbackDays: number;
  providers: Provider[];
  apns?: {
    /** The emulator's apps (with the real tokens) and, per app, the datasets configured. */
    apps: ApnsTeamFixture[];
    datasets: ApnsTokenField[][];
    /** Datasets whose token the config carries wrong (revoked). */
    revoked: { app: number; dataset: ApnsTokenField }[];
    processingPolls: number;
  };
  onesignal?: {
    accounts: OneSignalAccountFixture[];
    apps: OneSignalAppPlan[];
    recordsPerSecond: number;
    /** Retry-After (s) on a refused second export of an account. */
    busyRetryAfterSeconds?: number;
    /** Apps whose key the emulator revokes from sync `revokedFrom` until the quiet sync. */
    revokedApps: string[];
    revokedFrom?: number;
  };
  pushwoosh?: {
    logApi: 'message_log' | 'tracking_log';
    applications: string[];
    eventsPerDay: number;
    pendingPolls: number;
    pageCap?: number;
  };
  /** Faults injected just before sync number `sync` (0-based; the final sync is syncs.length). */
  faults: { sync: number; fault: Fault }[];
  /** The stopped syncs; the runner adds the final sync and a quiet one after it. */
  syncs: { stop: Stop }[];
  /** Names of the vendor states applied. */
  applied: string[];
  /** Streams that may fail with a config_error in every sync (a revoked credential). */
  expectedConfigErrors: string[];
  /** A short OneSignal file: only the first tenth of a message's rows is owed. */
  shortFiles: boolean;
  /**
   * Faults that fail streams for good (a revoked key, a file served empty every time), from sync
   * `from` to the final sync, lifted before the quiet sync: the final sync may end 1 with the
   * stream INCOMPLETE and errors of `failureType` (naming `names` when given), records of those
   * streams may be missing until the quiet sync, which must then complete and fill the gap.
   */
  lasting: {
    from: number;
    streams: string[];
    failureType: string;
    names?: RegExp;
    /** Only these apps' records may be missing (App IDs); all of the streams' when unset. */
    apps?: string[];
  }[];
  /** A OneSignal export answer may be lost: the quiet sync comes after every export expired. */
  lostExports: boolean;
  /** Bad cells served: records may carry meta.changes (NULLED, never on a key field). */
  badCells: boolean;
  /** The chain is a full_refresh job: each attempt resumes from the last state; the quiet sync is a new job. */
  fullRefresh: boolean;
}

export interface VendorState {
  name: string;
  provider: Provider;
  /** The chance that a seed with this provider gets this state. */
  weight: number;
  apply(s: Scenario, rng: Rng): void;
}

const DAY_S = 86_400;

/** Injects `fault` before a random sync of the chain, the final one included. */
function faultAt(s: Scenario, rng: Rng, fault: Fault): void {
  s.faults.push({ sync: rng.int(0, s.syncs.length), fault });
}

/**
 * A fault served every time from a random sync to the final one (lifted before the quiet sync):
 * `streams` may fail for good meanwhile.
 */
function lastingFault(
  s: Scenario,
  rng: Rng,
  fault: Fault,
  streams: string[],
  failureType: string,
): void {
  const from = rng.int(0, s.syncs.length);
  s.faults.push({ sync: from, fault });
  s.lasting.push({ from, streams, failureType });
}

/** The providers that read a malformed_csv fault (APNs takes any; OneSignal its own variants). */
const csvStreams = (s: Scenario) =>
  (['apns', 'onesignal'] as const)
    .filter((p) => s.providers.includes(p))
    .flatMap((p) => STREAMS_OF[p]);

const osMessages = (s: Scenario) =>
  s.onesignal!.accounts.flatMap((a) => a.apps.flatMap((app) => app.messages));

function newOneSignalApp(s: Scenario, rng: Rng, account: OneSignalAccountFixture): void {
  const appId = rng.uuid();
  const apiKey = `os-key-soak-${appId.replace(/-/g, '')}`;
  const start = s.nowS - s.windowDays * DAY_S;
  const messages: OneSignalMessageFixture[] = Array.from({ length: rng.int(2, 5) }, () => {
    // Between the window's start and an hour ago, away from the window's edge.
    const sendAfter = rng.int(start - (start % DAY_S) + 3600, s.nowS - 3600);
    return {
      id: rng.uuid(),
      sendAfter,
      completedAt: sendAfter + 60,
      remaining: 0,
      events: rng.int(1, 300),
    };
  });
  account.apps.push({ appId, apiKey, messages });
  s.onesignal!.apps.push({ appId, apiKey, account: account.accountId, revoked: false });
}

/**
 * A route fault on one of `routes`, once to three times: a 500, 502 or 503 (`server_error`), or a
 * 429 with a Retry-After of 1 to 5 s (`rate_limit`); the client retries both.
 */
const routeFaults = (
  name: string,
  provider: Provider,
  kind: 'server_error' | 'rate_limit',
  routes: string[],
): VendorState => ({
  name,
  provider,
  weight: 0.3,
  apply: (s, rng) =>
    faultAt(s, rng, {
      kind,
      route: rng.pick(routes),
      times: rng.int(1, 3),
      ...(kind === 'server_error'
        ? { status: rng.pick([500, 502, 503]) }
        : { retryAfterSeconds: rng.int(1, 5) }),
    } as Fault),
});

/** Every CSV download served empty (no header row) from some sync until the quiet one. */
const emptyCsv = (name: string, provider: Provider, weight: number): VendorState => ({
  name,
  provider,
  weight,
  apply: (s, rng) =>
    lastingFault(
      s,
      rng,
      { kind: 'malformed_csv', variant: 'empty_body', times: 1000 },
      csvStreams(s),
      'transient_error',
    ),
});

/** Cells that do not convert: nulled and named in meta.changes (a key cell is never drawn). */
const badCells = (
  name: string,
  provider: Provider,
  variant: 'bad_count' | 'bad_timestamp',
): VendorState => ({
  name,
  provider,
  weight: 0.2,
  apply(s, rng) {
    s.badCells = true;
    faultAt(s, rng, { kind: 'malformed_csv', variant, times: rng.int(1, 3) });
  },
});

export const VENDOR_STATES: VendorState[] = [
  // --- APNs
  {
    name: 'apns_several_apps',
    provider: 'apns',
    weight: 0.5,
    apply(s, rng) {
      const a = s.apns!;
      for (const app of DEFAULT_APNS_APPS.slice(1, rng.int(2, 3))) {
        a.apps.push(app);
        a.datasets.push([
          'deliverymetrics',
          'broadcastapplicationmetric',
          'broadcastchannelmetrics',
        ]);
      }
    },
  },
  {
    name: 'apns_revoked_token',
    provider: 'apns',
    weight: 0.15,
    apply(s, rng) {
      const a = s.apns!;
      if (a.apps.length < 2) return;
      const dataset = rng.pick(['deliverymetrics', 'broadcastapplicationmetric'] as const);
      a.revoked.push({ app: rng.int(1, a.apps.length - 1), dataset });
      s.expectedConfigErrors.push(
        dataset === 'deliverymetrics' ? 'apns_delivery_metrics' : 'apns_broadcast_app',
      );
    },
  },
  routeFaults('apns_5xx', 'apns', 'server_error', ['apns.request', 'apns.status', 'apns.download']),
  routeFaults('apns_429', 'apns', 'rate_limit', ['apns.request', 'apns.status']),
  {
    name: 'apns_truncated_file',
    provider: 'apns',
    weight: 0.2,
    apply: (s, rng) => faultAt(s, rng, { kind: 'truncated_body', route: 'apns.download' }),
  },
  {
    name: 'apns_slow_generation',
    provider: 'apns',
    weight: 0.3,
    apply: (s, rng) => void (s.apns!.processingPolls = rng.int(3, 6)),
  },
  emptyCsv('apns_empty_body', 'apns', 0.12),
  badCells('apns_bad_cells', 'apns', 'bad_count'),
  // --- OneSignal
  {
    name: 'os_several_apps',
    provider: 'onesignal',
    weight: 0.5,
    apply(s, rng) {
      for (let i = rng.int(1, 2); i > 0; i--) newOneSignalApp(s, rng, s.onesignal!.accounts[0]);
    },
  },
  {
    name: 'os_several_accounts',
    provider: 'onesignal',
    weight: 0.35,
    apply(s, rng) {
      const account: OneSignalAccountFixture = {
        accountId: `acct-soak-${rng.int(1, 1e6)}`,
        apps: [],
      };
      s.onesignal!.accounts.push(account);
      for (let i = rng.int(1, 2); i > 0; i--) newOneSignalApp(s, rng, account);
    },
  },
  {
    name: 'os_canceled',
    provider: 'onesignal',
    weight: 0.2,
    apply(s, rng) {
      const m = rng.pick(osMessages(s));
      m.canceled = true;
      m.remaining = rng.int(1, 50);
    },
  },
  {
    name: 'os_unfinished',
    provider: 'onesignal',
    weight: 0.3,
    apply(s, rng) {
      const m = rng.pick(osMessages(s));
      m.completedAt = null;
      m.remaining = rng.int(1, m.events);
    },
  },
  {
    name: 'os_subsecond_send_times',
    provider: 'onesignal',
    weight: 0.3,
    apply(s, rng) {
      const app = rng.pick(s.onesignal!.accounts[0].apps);
      const [m] = app.messages;
      const t = Math.floor(m.sendAfter);
      m.sendAfter = t + rng.int(1, 999) / 1000;
      // A second message in the same second: the listing's position must tell them apart.
      app.messages.push({
        ...m,
        id: rng.uuid(),
        sendAfter: t + rng.int(1, 999) / 1000,
        canceled: undefined,
      });
    },
  },
  {
    name: 'os_empty_file',
    provider: 'onesignal',
    weight: 0.3,
    apply: (s, rng) => void (rng.pick(osMessages(s)).events = 0),
  },
  {
    name: 'os_truncated_file',
    provider: 'onesignal',
    weight: 0.25,
    apply: (s, rng) =>
      faultAt(s, rng, {
        kind: rng.pick(['truncated_body', 'reset_mid_body'] as const),
        route: 'onesignal.download',
      }),
  },
  {
    name: 'os_short_file',
    provider: 'onesignal',
    weight: 0.15,
    apply(s, rng) {
      s.shortFiles = true;
      faultAt(s, rng, { kind: 'malformed_csv', variant: 'short_file' });
    },
  },
  routeFaults('os_429', 'onesignal', 'rate_limit', ['onesignal.notifications', 'onesignal.export']),
  routeFaults('os_5xx', 'onesignal', 'server_error', [
    'onesignal.notifications',
    'onesignal.download',
  ]),
  {
    name: 'os_revoked_key',
    provider: 'onesignal',
    weight: 0.15,
    apply(s, rng) {
      const apps = s.onesignal!.apps;
      if (apps.length < 2) return;
      const app = apps[rng.int(1, apps.length - 1)];
      app.revoked = true;
      app.apiKey = `os-key-revoked-${rng.uuid().replace(/-/g, '')}`;
      s.expectedConfigErrors.push(...STREAMS_OF.onesignal);
    },
  },
  {
    name: 'os_slow_generation',
    provider: 'onesignal',
    weight: 0.5,
    apply: (s, rng) => void (s.onesignal!.recordsPerSecond = rng.int(1500, 6000)),
  },
  {
    name: 'os_busy_retry_after',
    provider: 'onesignal',
    weight: 0.3,
    apply: (s, rng) => void (s.onesignal!.busyRetryAfterSeconds = rng.int(1, 4)),
  },
  {
    name: 'os_export_lost',
    provider: 'onesignal',
    weight: 0.25,
    // The export runs on with a URL nobody knows: its account is stuck until the export expires
    // (3 days; the harness expires it before the quiet sync), and its apps fail meanwhile.
    apply(s, rng) {
      lastingFault(
        s,
        rng,
        { kind: 'onesignal_export_lost', status: rng.pick([500, 502, 503, 504]) },
        STREAMS_OF.onesignal,
        'transient_error',
      );
      s.lostExports = true;
    },
  },
  {
    // Revoked in the emulator (the config is right): the app fails alone until the key is back.
    name: 'os_revoked_apps',
    provider: 'onesignal',
    weight: 0.15,
    apply(s, rng) {
      const apps = s.onesignal!.apps;
      if (apps.length < 2) return;
      const picked = apps.filter(() => rng.chance(0.4)).slice(0, apps.length - 1);
      if (!picked.length) picked.push(apps[rng.int(1, apps.length - 1)]);
      s.onesignal!.revokedApps = picked.map((a) => a.appId);
      const paths = picked.map((a) => `onesignal\\.apps\\[${apps.indexOf(a)}\\]`);
      const from = rng.int(0, s.syncs.length);
      s.onesignal!.revokedFrom = from;
      s.lasting.push({
        from,
        streams: STREAMS_OF.onesignal,
        failureType: 'config_error',
        names: new RegExp(paths.join('|')),
        apps: s.onesignal!.revokedApps,
      });
    },
  },
  emptyCsv('os_empty_body', 'onesignal', 0.15),
  badCells('os_bad_cells', 'onesignal', 'bad_timestamp'),
  // --- Pushwoosh
  {
    name: 'pw_tracking_log',
    provider: 'pushwoosh',
    weight: 0.4,
    apply: (s) => void (s.pushwoosh!.logApi = 'tracking_log'),
  },
  {
    name: 'pw_several_apps',
    provider: 'pushwoosh',
    weight: 0.5,
    apply: (s, rng) =>
      void (s.pushwoosh!.applications = pushwooshApplications(DEFAULT_PUSHWOOSH_ACCOUNT).slice(
        0,
        rng.int(2, 3),
      )),
  },
  routeFaults('pw_5xx', 'pushwoosh', 'server_error', [
    'pushwoosh.getMessageLog',
    'pushwoosh.getResults',
    'pushwoosh.download',
  ]),
  routeFaults('pw_429', 'pushwoosh', 'rate_limit', [
    'pushwoosh.getMessageLog',
    'pushwoosh.getTrackingLog',
  ]),
  {
    name: 'pw_slow_generation',
    provider: 'pushwoosh',
    weight: 0.3,
    apply: (s, rng) =>
      faultAt(s, rng, { kind: 'pushwoosh_pending', polls: rng.int(2, 6), times: 3 }),
  },
  {
    name: 'pw_paging',
    provider: 'pushwoosh',
    weight: 0.3,
    apply: (s, rng) => void (s.pushwoosh!.pageCap = rng.int(3, 9)),
  },
  {
    name: 'pw_empty_body',
    provider: 'pushwoosh',
    weight: 0.12,
    apply(s, rng) {
      // Only the tracking log downloads a file.
      s.pushwoosh!.logApi = 'tracking_log';
      lastingFault(
        s,
        rng,
        { kind: 'malformed_zip', variant: 'empty_body', times: 1000 },
        STREAMS_OF.pushwoosh,
        'transient_error',
      );
    },
  },
  {
    name: 'pw_two_entries',
    provider: 'pushwoosh',
    weight: 0.2,
    apply(s, rng) {
      s.pushwoosh!.logApi = 'tracking_log';
      faultAt(s, rng, { kind: 'malformed_zip', variant: 'two_entries', times: rng.int(1, 3) });
    },
  },
  {
    // A payload cut short: nulled with meta.changes (a timestamp cell is a key: not drawn).
    name: 'pw_bad_cells',
    provider: 'pushwoosh',
    weight: 0.2,
    apply(s, rng) {
      s.pushwoosh!.logApi = 'tracking_log';
      s.badCells = true;
      faultAt(s, rng, { kind: 'malformed_zip', variant: 'bad_payload', times: rng.int(1, 3) });
    },
  },
];

export interface StopPoint {
  name: string;
  weight: number;
  /** The n of "the n-th such event". */
  draw(rng: Rng): number;
}

/** Where a stopped sync is stopped; run.ts watches for each point's event. */
export const STOP_POINTS: StopPoint[] = [
  { name: 'record', weight: 3, draw: (rng) => rng.int(1, 400) },
  { name: 'state', weight: 3, draw: (rng) => rng.int(1, 6) },
  // The n-th export request the emulator answered: the stop lands while it is generated.
  { name: 'export_requested', weight: 2, draw: (rng) => rng.int(1, 4) },
  // The n-th STATE carrying an export in OneSignal's exports_in_flight: the platform holds it.
  { name: 'in_flight_noted', weight: 2, draw: (rng) => rng.int(1, 3) },
  // The n-th STATE without a note: a checkpoint, while run-ahead may have the next export out.
  { name: 'checkpoint', weight: 2, draw: (rng) => rng.int(1, 3) },
];

const SIGNALS = [
  { name: 'SIGTERM' as const, weight: 4 },
  { name: 'SIGKILL' as const, weight: 4 },
  { name: 'SIGINT' as const, weight: 1 },
];

/** Draws the plan of `seed`. */
export function scenarioOf(seed: number, nowS = Math.floor(Date.now() / 1000)): Scenario {
  const rng = new Rng(seed);
  const s: Scenario = {
    seed,
    nowS,
    windowDays: rng.int(2, 4),
    lookbackDays: rng.pick([0, 0, 1, 2]),
    providers: [],
    faults: [],
    syncs: [],
    applied: [],
    expectedConfigErrors: [],
    shortFiles: false,
    lasting: [],
    badCells: false,
    fullRefresh: false,
    lostExports: false,
  };
  if (rng.chance(0.45)) s.providers.push('apns');
  if (rng.chance(0.85)) s.providers.push('onesignal');
  if (rng.chance(0.45)) s.providers.push('pushwoosh');
  if (s.providers.length === 0) s.providers.push('onesignal');

  for (let i = rng.int(1, 3); i > 0; i--) {
    s.syncs.push({
      stop: {
        signal: rng.weighted(SIGNALS).name,
        at: rng.weighted(STOP_POINTS).name,
        n: 0,
        delayMs: rng.chance(0.4) ? 0 : rng.int(1, 30),
      },
    });
  }
  for (const { stop } of s.syncs) stop.n = STOP_POINTS.find((p) => p.name === stop.at)!.draw(rng);

  if (s.providers.includes('apns')) {
    s.apns = {
      apps: [DEFAULT_APNS_APPS[0]],
      datasets: [['deliverymetrics', 'broadcastapplicationmetric', 'broadcastchannelmetrics']],
      revoked: [],
      processingPolls: 1,
    };
  }
  if (s.providers.includes('onesignal')) {
    s.onesignal = {
      accounts: [{ accountId: `acct-soak-main`, apps: [] }],
      apps: [],
      recordsPerSecond: 200_000,
      revokedApps: [],
    };
    newOneSignalApp(s, rng, s.onesignal.accounts[0]);
  }
  if (s.providers.includes('pushwoosh')) {
    s.pushwoosh = {
      logApi: 'message_log',
      applications: [DEFAULT_PUSHWOOSH_ACCOUNT.applicationCode],
      eventsPerDay: rng.int(3, 12),
      pendingPolls: 1,
    };
  }
  for (const state of VENDOR_STATES) {
    if (!s.providers.includes(state.provider) || !rng.chance(state.weight)) continue;
    state.apply(s, rng);
    s.applied.push(state.name);
  }
  // Drawn last, so that the plans above stay those of the seeds before it existed.
  if (rng.chance(0.15)) {
    s.fullRefresh = true;
    s.applied.push('full_refresh');
  }
  return s;
}
