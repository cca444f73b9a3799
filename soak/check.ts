import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../emulator/fixtures';
import {
  groundTruth,
  primaryKeyOf,
  recordKey,
  type GroundTruthInput,
} from '../emulator/ground-truth';
import type { OneSignalMessageFixture } from '../emulator/onesignal';
import { pushwooshApplications } from '../emulator/pushwoosh';
import {
  type ChainResult,
  CANCEL_BOUND_MS,
  type Msg,
  parseLine,
  type SyncRun,
  windowDays,
} from './run';
import type { Scenario } from './scenario';

export interface Violation {
  invariant: string;
  /** The sync's index in the chain, when one sync shows it. */
  sync?: number;
  evidence: string;
}

const DAY_S = 86_400;
const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

const messagesOf = (run: SyncRun): Msg[] =>
  run.lines.map((l) => parseLine(l.text)).filter((m): m is Msg => m !== undefined);

const killed = (run: SyncRun) => run.signal === 'SIGKILL';

/** What the emulator serves for this scenario: every key, and the keys a chain must deliver. */
export function truthOf(s: Scenario): {
  all: Map<string, Set<string>>;
  owed: Map<string, Set<string>>;
} {
  const days = windowDays(s);
  const input: GroundTruthInput = {
    days,
    sinceS: Date.parse(`${days[0]}T00:00:00Z`) / 1000,
    apns: s.apns?.apps.map((app, i) => ({
      ...app,
      tokens: Object.fromEntries(
        s
          .apns!.datasets[i].filter(
            (d) => !s.apns!.revoked.some((r) => r.app === i && r.dataset === d),
          )
          .map((d) => [d, app.tokens[d]]),
      ),
    })),
    onesignal: s.onesignal?.accounts.flatMap((a) =>
      a.apps.filter((app) => !s.onesignal!.apps.find((p) => p.appId === app.appId)!.revoked),
    ),
    pushwoosh: s.pushwoosh && {
      logApi: s.pushwoosh.logApi,
      applications: s.pushwoosh.applications,
      accountApplications: pushwooshApplications(DEFAULT_PUSHWOOSH_ACCOUNT),
      eventsPerDay: s.pushwoosh.eventsPerDay,
    },
  };
  const eventsOf = new Map<string, number>();
  for (const a of input.onesignal ?? [])
    for (const m of a.messages) eventsOf.set(`${a.appId}/${m.id}`, m.events);
  const all = new Map<string, Set<string>>();
  const owed = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, stream: string, key: string) => {
    if (!map.has(stream)) map.set(stream, new Set());
    map.get(stream)!.add(key);
  };
  for (const t of groundTruth(input)) {
    add(all, t.stream, t.key);
    if (t.row !== undefined && s.shortFiles) {
      // A short file holds a tenth of the rows; only those are owed.
      const [appId, messageId] = JSON.parse(t.key) as string[];
      if (t.row >= Math.floor(eventsOf.get(`${appId}/${messageId}`)! / 10)) continue;
    }
    add(owed, t.stream, t.key);
  }
  return { all, owed };
}

/** A OneSignal message no longer holds the cursor back when finished or canceled (contract). */
const settles = (m: OneSignalMessageFixture) =>
  m.canceled === true || (m.completedAt !== null && m.remaining === 0);

/** Messages before the cursor minus the lookback: a sync right after a complete one exports none. */
function settledMessages(s: Scenario): Set<string> {
  const out = new Set<string>();
  for (const account of s.onesignal?.accounts ?? []) {
    for (const app of account.apps) {
      const push = app.messages
        .filter((m) => (m.channel ?? 'push') === 'push')
        .sort((a, b) => a.sendAfter - b.sendAfter);
      let cursor: number | undefined;
      for (const m of push) {
        if (!settles(m)) break;
        cursor = m.sendAfter;
      }
      if (cursor === undefined) continue;
      // Messages in the cursor's second are listed again (the listing resumes after the second).
      const edge = Math.floor(cursor) - s.lookbackDays * DAY_S;
      for (const m of push) if (m.sendAfter < edge) out.add(m.id);
    }
  }
  return out;
}

function secretsOf(r: ChainResult): { secrets: string[]; recordOnly: string[] } {
  const s = r.scenario;
  const secrets: string[] = [];
  const c = r.config as Msg;
  for (const app of c.apns?.apps ?? [])
    for (const k of ['delivery_metrics_token', 'broadcast_app_token', 'broadcast_channel_token'])
      if (app[k]) secrets.push(app[k]);
  if (c.pushwoosh) secrets.push(c.pushwoosh.api_token);
  for (const a of s.onesignal?.apps ?? []) secrets.push(a.apiKey);
  return { secrets, recordOnly: s.onesignal?.apps.map((a) => a.appId) ?? [] };
}

/** Per-sync protocol invariants: whole lines, states, secrets, temp files, time bounds. */
function checkSync(r: ChainResult, run: SyncRun, out: Violation[]): void {
  const v = (invariant: string, evidence: string) =>
    out.push({ invariant, sync: run.index, evidence });
  for (const l of run.lines)
    if (!parseLine(l.text)) v('cut_line', `stdout line is not a JSON object: ${clip(l.text, 120)}`);
  if (run.tail && !killed(run))
    v(
      'cut_line',
      `stdout ends mid-line (${run.signal ?? `exit ${run.code}`}): ${clip(run.tail, 120)}`,
    );
  if (run.overBound)
    v(
      'stuck_sync',
      `still running after ${run.boundMs} ms; killed. stderr tail: ${clip(run.stderr.slice(-300))}`,
    );
  if (
    run.stop !== undefined &&
    run.stop.signal !== 'SIGKILL' &&
    run.cancelMs !== undefined &&
    run.cancelMs > CANCEL_BOUND_MS
  )
    v('slow_cancel', `${run.stop!.signal} took ${run.cancelMs} ms to end the sync`);
  if (run.tmpLeft.length && !killed(run))
    v(
      'spooled_file_left',
      `TMPDIR after exit (${run.signal ?? `exit ${run.code}`}) holds ${run.tmpLeft.join(', ')}`,
    );

  // A SIGTERM or SIGINT ends the sync: whatever fails after it (a spool removed under a reader)
  // is the stop's doing, not an error of the sync to report.
  if (run.signalledAt !== undefined && run.stop?.signal !== 'SIGKILL')
    for (const l of run.lines) {
      if (l.at < run.signalledAt || !l.text.includes('"type":"TRACE"')) continue;
      const m = parseLine(l.text);
      if (m?.trace?.error?.failure_type === 'system_error')
        v(
          'error_after_stop',
          `a system_error after the ${run.stop!.signal}: ${clip(String(m.trace.error.message), 200)}`,
        );
    }

  const { secrets, recordOnly } = secretsOf(r);
  for (const secret of secrets) {
    const where = [...run.lines.map((l) => l.text), run.tail, run.stderr].find((t) =>
      t.includes(secret),
    );
    if (where)
      v(
        'secret_leak',
        `a configured secret (${secret.slice(0, 8)}…) is in: ${clip(where.replace(secret, '<SECRET>'), 200)}`,
      );
  }
  for (const id of recordOnly) {
    if (run.stderr.includes(id)) v('secret_leak', `a OneSignal App ID is on stderr`);
    const line = run.lines.find((l) => l.text.includes(id) && !l.text.includes('"type":"RECORD"'));
    if (line)
      v(
        'secret_leak',
        `a OneSignal App ID is in a non-RECORD message: ${clip(line.text.replace(id, '<APP_ID>'), 200)}`,
      );
  }

  const last = new Map<string, { state: string; records: number }>();
  const since = new Map<string, number>();
  for (const m of messagesOf(run)) {
    if (m.type === 'RECORD') {
      since.set(m.record.stream, (since.get(m.record.stream) ?? 0) + 1);
      checkRecord(r.scenario, m, v);
    } else if (m.type === 'STATE') {
      const stream = m.state?.stream?.stream_descriptor?.name as string;
      const state = JSON.stringify(m.state.stream.stream_state);
      const records = since.get(stream) ?? 0;
      const count = m.state.sourceStats?.recordCount;
      if (count !== records)
        v(
          'record_count',
          `${stream}: STATE says recordCount ${count}, ${records} record(s) since its previous state`,
        );
      if (last.get(stream)?.state === state && records > 0)
        v(
          'duplicate_state',
          `${stream}: the same state twice in a row with ${records} record(s) between: ${clip(state, 200)}`,
        );
      last.set(stream, { state, records });
      since.set(stream, 0);
    }
  }
}

/**
 * A record's nulled cells: only where meta.changes says so (NULLED), never a key field, and only
 * when the scenario served bad cells; no key field is ever null.
 */
function checkRecord(s: Scenario, m: Msg, v: (invariant: string, evidence: string) => void): void {
  const { stream, data } = m.record as { stream: string; data: Record<string, unknown> };
  const key = primaryKeyOf(stream, s.pushwoosh?.logApi);
  for (const k of key)
    if (data[k] === null || data[k] === undefined)
      v('null_key', `${stream}: key field ${k} is ${String(data[k])}`);
  const changes = m.record.meta?.changes as Msg[] | undefined;
  if (!changes) return;
  if (!s.badCells) v('bad_cell', `${stream}: meta.changes though no bad cell was served`);
  for (const c of changes) {
    if (c.change !== 'NULLED' || data[c.field] !== null)
      v(
        'bad_cell',
        `${stream}: meta.changes ${JSON.stringify(c)} but the field is ${JSON.stringify(data[c.field])}`,
      );
    if (key.includes(c.field)) v('bad_cell', `${stream}: key field ${c.field} nulled`);
  }
}

/** The lasting fault that explains an error of the final sync, if any. */
const lastingFor = (s: Scenario, e: Msg) =>
  s.lasting.find(
    (l) =>
      l.streams.includes(e.stream_descriptor?.name) &&
      e.failure_type === l.failureType &&
      (!l.names || l.names.test(String(e.message))),
  );

/** A complete sync ends 0, or 1 with only the config errors a revoked credential explains. */
function checkComplete(chain: ChainResult, run: SyncRun, out: Violation[]): boolean {
  const s = chain.scenario;
  if (run.overBound || run.stop) return false;
  const errors = messagesOf(run)
    .filter((m) => m.type === 'TRACE' && m.trace?.type === 'ERROR')
    .map((m) => m.trace.error as Msg);
  const unexpected = errors.filter(
    (e) =>
      !(
        e.failure_type === 'config_error' &&
        s.expectedConfigErrors.includes(e.stream_descriptor?.name)
      ) && !(run.kind === 'final' && lastingFor(s, e)),
  );
  // A stream failed by a lasting fault ends INCOMPLETE.
  if (run.kind === 'final') {
    const status = new Map<string, string>();
    for (const m of messagesOf(run))
      if (m.type === 'TRACE' && m.trace?.type === 'STREAM_STATUS')
        status.set(m.trace.stream_status?.stream_descriptor?.name, m.trace.stream_status?.status);
    for (const e of errors) {
      const stream = e.stream_descriptor?.name as string;
      if (lastingFor(s, e) && status.get(stream) !== 'INCOMPLETE')
        out.push({
          invariant: 'failed_stream_status',
          sync: run.index,
          evidence: `${stream} failed (${e.failure_type}) yet its last status is ${status.get(stream)}`,
        });
    }
  }
  const ok = run.code === 0 || (run.code === 1 && errors.length > 0 && unexpected.length === 0);
  if (!ok || unexpected.length) {
    const list = (unexpected.length ? unexpected : errors)
      .map(
        (e) =>
          `${e.stream_descriptor?.name ?? '-'} ${e.failure_type}: ${clip(String(e.message), 200)}`,
      )
      .join(' | ');
    out.push({
      invariant: 'no_convergence',
      sync: run.index,
      evidence: `the ${run.kind} sync (no stop) exited ${run.code ?? run.signal}: ${list || clip(run.stderr.slice(-300))}${/another export/.test(list) ? leftBehind(chain) : ''}`,
    });
    return false;
  }
  return true;
}

/** Which stop left a OneSignal export holding its account's slot, and whether its note was handed on. */
function leftBehind(chain: ChainResult): string {
  const parts = chain.syncs.flatMap((run) =>
    run.leftRunning.map(
      (x) =>
        `sync ${run.index}'s stop (${run.stop!.signal} at ${run.stop!.at} #${run.stop!.n}) left message ${x.messageId}'s export running, ${
          x.noteHandedOn
            ? 'and the state handed on carries its note, yet the next sync asks for another export first'
            : 'and its note, emitted in an earlier STATE, is missing from the state handed on (a later checkpoint erased it)'
        }`,
    ),
  );
  return parts.length ? `. ${parts.join('; ')}` : '';
}

/**
 * Records the platform keeps: all of a clean sync; otherwise all of a stream that ended COMPLETE
 * (records after a stream's last distinct state count in no state, yet its end commits them),
 * and up to each other stream's last STATE.
 */
function committedRecords(run: SyncRun): Msg[] {
  const ms = messagesOf(run);
  if (run.code === 0 && !run.stop) return ms.filter((m) => m.type === 'RECORD');
  const lastState = new Map<string, number>();
  ms.forEach((m, i) => {
    if (m.type === 'STATE') lastState.set(m.state.stream.stream_descriptor.name, i);
    const status = m.type === 'TRACE' && m.trace?.type === 'STREAM_STATUS' && m.trace.stream_status;
    if (status?.status === 'COMPLETE') lastState.set(status.stream_descriptor.name, Infinity);
  });
  return ms.filter((m, i) => m.type === 'RECORD' && i < (lastState.get(m.record.stream) ?? -1));
}

function sample(keys: Iterable<string>, n = 3): string {
  const list = [...keys];
  return `${list.length} (e.g. ${list.slice(0, n).join(', ')})`;
}

export function checkChain(r: ChainResult): Violation[] {
  const s = r.scenario;
  const out: Violation[] = [];
  for (const run of r.syncs) checkSync(r, run, out);
  const final = r.syncs.find((x) => x.kind === 'final')!;
  const quiet = r.syncs.find((x) => x.kind === 'quiet');
  const finalOk = checkComplete(r, final, out);
  if (finalOk && quiet) checkComplete(r, quiet, out);

  const logApi = s.pushwoosh?.logApi;
  const { all, owed } = truthOf(s);
  const seen = new Map<string, Set<string>>();
  const seenByFinal = new Map<string, Set<string>>();
  const foreign = new Map<string, Set<string>>();
  // An unfinished message holds its app's cursor: its rows and those of later messages follow
  // the last distinct state, so they count in no state until a sync whose stream ends COMPLETE (the quiet one here).
  const unsettled = new Set(
    s.onesignal?.accounts
      .flatMap((x) => x.apps)
      .flatMap((app) => {
        // The cursor stops before the first unsettled message: every later one waits with it.
        const held = Math.min(...app.messages.filter((m) => !settles(m)).map((m) => m.sendAfter));
        return app.messages.filter((m) => m.sendAfter >= held).map((m) => m.id);
      }),
  );
  const excused = (stream: string, key: string) =>
    s.lasting.some(
      (l) =>
        l.streams.includes(stream) &&
        (!l.apps ||
          l.apps.includes((JSON.parse(key) as string[])[0]) ||
          (stream.startsWith('onesignal_') && unsettled.has((JSON.parse(key) as string[])[1]))),
    );
  for (const run of r.syncs) {
    for (const m of messagesOf(run)) {
      if (m.type !== 'RECORD') continue;
      const key = recordKey(m.record.stream, m.record.data, logApi);
      if (!all.get(m.record.stream)?.has(key)) {
        if (!foreign.has(m.record.stream)) foreign.set(m.record.stream, new Set());
        foreign.get(m.record.stream)!.add(key);
      }
    }
    // The quiet sync runs after a lasting fault is lifted: it fills that fault's gap.
    if (run.kind === 'quiet' && !s.lasting.length) continue;
    for (const m of committedRecords(run)) {
      if (!seen.has(m.record.stream)) seen.set(m.record.stream, new Set());
      seen.get(m.record.stream)!.add(recordKey(m.record.stream, m.record.data, logApi));
      if (run.kind === 'quiet') continue;
      if (!seenByFinal.has(m.record.stream)) seenByFinal.set(m.record.stream, new Set());
      seenByFinal.get(m.record.stream)!.add(recordKey(m.record.stream, m.record.data, logApi));
    }
  }
  for (const [stream, keys] of foreign)
    out.push({
      invariant: 'foreign_records',
      evidence: `${stream}: keys the emulator never served: ${sample(keys)}`,
    });
  // What the final sync said about a stream, so that a loss names its likely cause.
  const finalErrors = (stream: string) => {
    const said = new Set(
      messagesOf(final)
        .filter((m) => m.type === 'TRACE' && m.trace?.error?.stream_descriptor?.name === stream)
        .map((m) => `${m.trace.error.failure_type}: ${clip(String(m.trace.error.message), 160)}`),
    );
    return said.size ? `; the final sync's errors on it: ${[...said].join(' | ')}` : '';
  };
  for (const [stream, keys] of owed) {
    // A stream a revoked key fails in every sync never ends COMPLETE: an unfinished message's
    // rows (after its last distinct state) count in no state until the message finishes.
    const waits = (k: string) =>
      s.expectedConfigErrors.includes(stream) &&
      stream.startsWith('onesignal_') &&
      unsettled.has((JSON.parse(k) as string[])[1]);
    const lost = [...keys].filter((k) => !seen.get(stream)?.has(k) && !waits(k));
    // With a lasting fault, everything it does not excuse is due by the final sync.
    const early = [...keys].filter(
      (k) => !seenByFinal.get(stream)?.has(k) && seen.get(stream)?.has(k) && !excused(stream, k),
    );
    if (early.length)
      out.push({
        invariant: 'lost_records',
        sync: final.index,
        evidence: `${stream}: ${early.length} of ${keys.size} keys, no lasting fault's to miss, missing after the final sync: ${sample(early)}${finalErrors(stream)}`,
      });
    if (lost.length)
      out.push({
        invariant: 'lost_records',
        evidence: `${stream}: ${lost.length} of ${keys.size} keys never committed by the chain (stops, then the final sync): ${sample(lost)}${finalErrors(stream)}`,
      });
  }

  // Exports per message bounded by the lookback.
  const retried = s.applied.some((a) =>
    ['os_truncated_file', 'os_5xx', 'os_short_file'].includes(a),
  );
  for (const run of r.syncs) {
    const per = new Map<string, number>();
    for (const q of run.requests)
      if (q.route === 'onesignal.export' && q.status === 200) {
        const id = q.path.split('/').at(-2)!;
        per.set(id, (per.get(id) ?? 0) + 1);
      }
    for (const [id, n] of per)
      if (n > 1 && !retried)
        out.push({
          invariant: 'repeated_export',
          sync: run.index,
          evidence: `message ${id} exported ${n} times in one sync`,
        });
    if (run === quiet && finalOk && !s.fullRefresh && !s.lasting.length) {
      const settled = settledMessages(s);
      const again = [...per.keys()].filter((id) => settled.has(id));
      if (again.length)
        out.push({
          invariant: 'exports_beyond_lookback',
          sync: run.index,
          evidence: `right after a complete sync, with lookback_days ${s.lookbackDays}, OneSignal messages before the cursor minus the lookback were exported again: ${again.join(', ')}`,
        });
      const apns = run.requests.filter(
        (q) => q.route === 'apns.request' && q.status === 200,
      ).length;
      if (s.lookbackDays === 0 && apns > 0)
        out.push({
          invariant: 'exports_beyond_lookback',
          sync: run.index,
          evidence: `right after a complete sync, with lookback_days 0, ${apns} APNs export(s) were requested`,
        });
    }
  }
  return out;
}
