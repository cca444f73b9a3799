import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../emulator/fixtures';
import { CONNECTOR_BIN } from '../emulator/harness';
import type { RecordedRequest } from '../emulator/server';
import { Emulator } from '../emulator/server';
import type { Scenario, Stop } from './scenario';
import { STREAMS_OF } from './scenario';

/** Every wait of the connector at 1/200 of real time: a 1 s poll interval is 5 ms. */
export const TIME_SCALE = 0.005;
/** How long a SIGTERM may take to end a sync (the README says "within seconds"). */
export const CANCEL_BOUND_MS = 5000;
/** The routes whose success starts an export: what an `export_requested` stop counts. */
export const EXPORT_ROUTES = ['apns.request', 'onesignal.export', 'pushwoosh.getTrackingLog'];

const DAY_S = 86_400;

export interface Line {
  /** Real epoch ms the harness read it. */
  at: number;
  text: string;
}

export interface SyncRun {
  index: number;
  kind: 'stopped' | 'final' | 'quiet';
  stop?: Stop;
  /** When the stop's signal was sent (undefined: its event never came, the sync ran to its end). */
  signalledAt?: number;
  code: number | null;
  signal: string | null;
  /** Complete stdout lines; `tail` is what followed the last newline. */
  lines: Line[];
  tail: string;
  stderr: string;
  ms: number;
  boundMs: number;
  overBound: boolean;
  cancelMs?: number;
  /** Files left in the run's TMPDIR after it exited. */
  tmpLeft: string[];
  /** The emulator's requests during this sync. */
  requests: RecordedRequest[];
  /** OneSignal exports the stop left running whose note never reached stdout, freed as expiry would. */
  released: string[];
  /**
   * OneSignal exports the stop left running (and not released), and whether the state handed to
   * the next sync still carries the export's note: a failure's evidence tells the two shapes apart.
   */
  leftRunning: { messageId: string; noteHandedOn: boolean }[];
}

export interface ChainResult {
  scenario: Scenario;
  config: Record<string, unknown>;
  syncs: SyncRun[];
  ms: number;
}

export const dayOf = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);

/** The first day of the window (start_date) and every day to yesterday. */
export function windowDays(s: Scenario): string[] {
  const days: string[] = [];
  const today = Math.floor(s.nowS / DAY_S) * DAY_S;
  for (let t = today - s.windowDays * DAY_S; t < today; t += DAY_S) days.push(dayOf(t));
  return days;
}

const TOKEN_FIELDS = {
  deliverymetrics: 'delivery_metrics_token',
  broadcastapplicationmetric: 'broadcast_app_token',
  broadcastchannelmetrics: 'broadcast_channel_token',
} as const;

export function configOf(s: Scenario, apiUrl: string): Record<string, unknown> {
  const config: Record<string, unknown> = {
    start_date: windowDays(s)[0],
    lookback_days: s.lookbackDays,
    // 1.5 s at TIME_SCALE: a sync that waits for a slot that never frees fails fast, while a
    // slow export on a loaded machine (HTTP latency is not scaled) still has time to be ready.
    export_timeout_minutes: 5,
    export_poll_max_interval_seconds: 1,
  };
  if (s.apns) {
    const a = s.apns;
    config.apns = {
      team_id: a.apps[0].teamId,
      apps: a.apps.map((app, i) => {
        const entry: Record<string, unknown> = { bundle_id: app.bundleId };
        for (const d of a.datasets[i]) {
          const revoked = a.revoked.some((r) => r.app === i && r.dataset === d);
          entry[TOKEN_FIELDS[d]] = revoked
            ? `apns-revoked-${d}-${app.bundleId}-x9Qw`
            : app.tokens[d];
        }
        if (a.datasets[i].includes('broadcastchannelmetrics')) entry.channel_ids = app.channelIds;
        return entry;
      }),
      api_url: apiUrl,
    };
  }
  if (s.onesignal) {
    config.onesignal = {
      apps: s.onesignal.apps.map((a) => ({
        app_id: a.appId,
        api_key: a.apiKey,
        account: a.account,
      })),
      api_url: apiUrl,
    };
  }
  if (s.pushwoosh) {
    const [first, ...more] = s.pushwoosh.applications;
    config.pushwoosh = {
      api_token: DEFAULT_PUSHWOOSH_ACCOUNT.apiToken,
      application_code: first,
      ...(more.length ? { application_codes: more } : {}),
      log_api: s.pushwoosh.logApi,
      api_url: apiUrl,
    };
  }
  return config;
}

export function catalogOf(s: Scenario): unknown {
  return {
    streams: s.providers.flatMap((p) =>
      STREAMS_OF[p].map((name) => ({
        stream: { name, json_schema: {}, supported_sync_modes: ['full_refresh', 'incremental'] },
        sync_mode: s.fullRefresh ? 'full_refresh' : 'incremental',
        destination_sync_mode: 'append_dedup',
      })),
    ),
  };
}

/** Real ms a sync may take: generous for a loaded machine, far below a stuck export's wait. */
export function syncBoundMs(s: Scenario): number {
  const rows = s.onesignal?.accounts.flatMap((a) => a.apps.flatMap((p) => p.messages)) ?? [];
  const generationMs = rows.reduce(
    (t, m) => t + (m.events / s.onesignal!.recordsPerSecond) * 1000,
    0,
  );
  return 12_000 + 2 * generationMs + 200 * s.faults.length;
}

/** A parsed Airbyte message; loosely typed, as the checks read nested fields of any message. */
export type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A stdout line as a message; undefined when it is not a JSON object (a cut or stray line). */
export function parseLine(text: string): Msg | undefined {
  try {
    const m = JSON.parse(text) as unknown;
    return m && typeof m === 'object' && !Array.isArray(m) ? (m as Msg) : undefined;
  } catch {
    return undefined;
  }
}

/** A STATE line whose OneSignal exports_in_flight holds an export. */
const NOTED = /"exports_in_flight":\{[^}]*"message_id"/;

interface Watch {
  records: number;
  states: number;
  notes: number;
  checkpoints: number;
  exports: () => number;
}

function eventCount(at: string, w: Watch): number {
  if (at === 'record') return w.records;
  if (at === 'state') return w.states;
  if (at === 'export_requested') return w.exports();
  if (at === 'in_flight_noted') return w.notes;
  if (at === 'checkpoint') return w.checkpoints;
  throw new Error(`unknown stop point ${at}`);
}

/** Runs one sync as the platform does, stopping it as `stop` says; never rejects. */
function runSync(
  emu: Emulator,
  dir: string,
  index: number,
  kind: SyncRun['kind'],
  files: { config: unknown; catalog: unknown; state?: unknown[] },
  boundMs: number,
  stop?: Stop,
): Promise<SyncRun> {
  const runDir = join(dir, `sync-${index}`);
  const tmp = join(runDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const args = ['read'];
  for (const [name, value] of Object.entries(files)) {
    if (value === undefined) continue;
    const path = join(runDir, `${name}.json`);
    writeFileSync(path, JSON.stringify(value));
    args.push(`--${name}`, path);
  }
  const firstRequest = emu.requests.length;
  const started = Date.now();
  const child = spawn(process.execPath, [CONNECTOR_BIN, ...args], {
    env: { ...process.env, SOURCE_PDM_TIME_SCALE: String(TIME_SCALE), TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: SyncRun = {
    index,
    kind,
    stop,
    code: null,
    signal: null,
    lines: [],
    tail: '',
    stderr: '',
    ms: 0,
    boundMs,
    overBound: false,
    tmpLeft: [],
    requests: [],
    released: [],
    leftRunning: [],
  };
  const w: Watch = {
    records: 0,
    states: 0,
    notes: 0,
    checkpoints: 0,
    exports: () =>
      emu.requests
        .slice(firstRequest)
        .filter((r) => EXPORT_ROUTES.includes(r.route) && r.status === 200).length,
  };
  const err: Buffer[] = [];
  let exited = false;
  let armed = false;
  const kill = (signal: NodeJS.Signals) => {
    if (!exited) child.kill(signal);
  };
  const check = () => {
    if (!stop || armed || exited || eventCount(stop.at, w) < stop.n) return;
    armed = true;
    setTimeout(() => {
      if (exited) return;
      run.signalledAt = Date.now();
      kill(stop.signal);
      if (stop.signal !== 'SIGKILL') setTimeout(() => kill('SIGKILL'), CANCEL_BOUND_MS).unref();
    }, stop.delayMs);
  };
  const poll = setInterval(check, 3);
  const bound = setTimeout(() => {
    run.overBound = true;
    kill('SIGKILL');
  }, boundMs);
  child.stdout.on('data', (chunk: Buffer) => {
    const at = Date.now();
    const parts = (run.tail + chunk.toString('utf8')).split('\n');
    run.tail = parts.pop()!;
    for (const text of parts) {
      run.lines.push({ at, text });
      if (text.includes('"type":"RECORD"')) w.records += 1;
      else if (text.includes('"type":"STATE"')) {
        w.states += 1;
        if (NOTED.test(text)) w.notes += 1;
        else w.checkpoints += 1;
      }
    }
    check();
  });
  child.stderr.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve) => {
    const finish = (code: number | null, signal: string | null) => {
      if (exited) return;
      exited = true;
      clearInterval(poll);
      clearTimeout(bound);
      run.code = code;
      run.signal = signal;
      run.ms = Date.now() - started;
      if (run.signalledAt !== undefined) run.cancelMs = Date.now() - run.signalledAt;
      run.stderr = Buffer.concat(err).toString('utf8');
      run.requests = emu.requests.slice(firstRequest);
      try {
        run.tmpLeft = readdirSync(tmp, { recursive: true }).map(String);
      } catch {
        run.tmpLeft = [];
      }
      rmSync(tmp, { recursive: true, force: true });
      resolve(run);
    };
    child.on('error', (e) => {
      run.stderr += `spawn failed: ${e.message}`;
      finish(null, null);
    });
    // 'close': stdout and stderr are fully read.
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/**
 * OneSignal keeps an export's slot until its file is downloaded or expires (3 days). An export
 * whose note never reached stdout (the stop came between the request and its STATE) is beyond
 * any connector's reach, so the soak lets it expire rather than blame the next sync.
 */
function releaseUnnoted(emu: Emulator, all: Line[]): string[] {
  const released: string[] = [];
  for (const running of emu.onesignalRunningExports()) {
    const requested = emu.requests
      .filter(
        (r) =>
          r.route === 'onesignal.export' && r.status === 200 && r.path.includes(running.messageId),
      )
      .at(-1);
    const since = requested?.at ?? 0;
    const noted = all.some(
      (l) =>
        l.at >= since &&
        l.text.includes(running.messageId) &&
        l.text.includes('"type":"STATE"') &&
        NOTED.test(l.text),
    );
    if (!noted) {
      emu.onesignalExpireRunning(running.accountId);
      released.push(running.messageId);
    }
  }
  return released;
}

/** The platform's state file: the last STATE of each stream, from every sync so far. */
function foldStates(states: Map<string, unknown>, run: SyncRun): void {
  for (const l of run.lines) {
    const m = parseLine(l.text);
    if (m?.type === 'STATE' && m.state?.stream?.stream_descriptor?.name)
      states.set(m.state.stream.stream_descriptor.name, { type: 'STREAM', stream: m.state.stream });
  }
}

/** Runs a scenario's chain: the stopped syncs, each resumed from the last states, the final and the quiet sync. */
export async function runChain(s: Scenario, dir: string): Promise<ChainResult> {
  const started = Date.now();
  const emu = await Emulator.start({
    apns: s.apns ? { teams: s.apns.apps, processingPolls: s.apns.processingPolls } : undefined,
    onesignal: s.onesignal
      ? {
          accounts: s.onesignal.accounts,
          recordsPerSecond: s.onesignal.recordsPerSecond,
          rateLimitWindowMs: 0,
          busyRetryAfterSeconds: s.onesignal.busyRetryAfterSeconds,
        }
      : { accounts: [] },
    pushwoosh: s.pushwoosh
      ? {
          eventsPerDay: s.pushwoosh.eventsPerDay,
          pendingPolls: s.pushwoosh.pendingPolls,
          messageLogPageCap: s.pushwoosh.pageCap,
        }
      : undefined,
  });
  const config = configOf(s, emu.apiUrl);
  const catalog = catalogOf(s);
  const boundMs = syncBoundMs(s);
  const states = new Map<string, unknown>();
  const syncs: SyncRun[] = [];
  const seen: Line[] = [];
  try {
    const plan: { kind: SyncRun['kind']; stop?: Stop }[] = [
      ...s.syncs.map((x) => ({ kind: 'stopped' as const, stop: x.stop })),
      { kind: 'final' },
      { kind: 'quiet' },
    ];
    for (const [i, step] of plan.entries()) {
      // The quiet sync measures a complete sync's successor: pointless after a failed final sync.
      const final = syncs.at(-1);
      if (
        step.kind === 'quiet' &&
        final?.code !== 0 &&
        !s.expectedConfigErrors.length &&
        !s.lasting.length
      )
        break;
      for (const f of s.faults) if (f.sync === i) emu.inject(f.fault);
      if (s.onesignal?.revokedFrom === i) emu.onesignalRevokeApps(s.onesignal.revokedApps);
      // Lasting faults are lifted before the quiet sync (faults were cleared after the final one).
      if (step.kind === 'quiet') {
        emu.onesignalRevokeApps([]);
        // A full refresh's quiet sync is a new job, which the platform starts without the state:
        // an export that a failed final attempt left recorded there is then beyond any
        // connector's reach, as an unnoted one is (see the docs: a new full-refresh job).
        if (s.lostExports || (s.fullRefresh && final?.code !== 0))
          for (const x of emu.onesignalRunningExports()) emu.onesignalExpireRunning(x.accountId);
      }
      // A full refresh's quiet sync is the next job: it starts afresh, with no state.
      const state =
        states.size && !(s.fullRefresh && step.kind === 'quiet') ? [...states.values()] : undefined;
      const run = await runSync(
        emu,
        dir,
        i,
        step.kind,
        { config, catalog, state },
        boundMs,
        step.stop,
      );
      syncs.push(run);
      foldStates(states, run);
      seen.push(...run.lines);
      if (step.kind === 'stopped') {
        run.released = releaseUnnoted(emu, seen);
        const handedOn = JSON.stringify([...states.values()]);
        run.leftRunning = emu.onesignalRunningExports().map((x) => ({
          messageId: x.messageId,
          noteHandedOn: handedOn.includes(x.messageId),
        }));
      }
      // Faults of this sync that it did not consume must not reach the final and quiet syncs.
      if (step.kind !== 'stopped') emu.clearFaults();
    }
  } finally {
    await emu.close();
  }
  return { scenario: s, config, syncs, ms: Date.now() - started };
}
