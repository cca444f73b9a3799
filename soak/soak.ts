import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkChain, type Violation } from './check';
import { type ChainResult, runChain } from './run';
import { scenarioOf } from './scenario';

/**
 * Seeds that once failed, with what they found (all replayed in CI): the plan of a seed is a
 * function of it, so each replays the path that failed (timing aside).
 */
export const REGRESSION_SEEDS: Record<number, string> = {
  13: 'emulator: a two-entry Pushwoosh ZIP was split inside a quoted multi-line payload',
  54: 'harness: a stream that ended COMPLETE in a failed sync commits its records (an unfinished OneSignal message after the last state)',
  123: "harness: while a revoked app fails the stream, a healthy app's unfinished message follows the last distinct state (counts in no state) until the stream completes",
  177: "harness: with a key revoked for good, an unfinished message's rows wait for it to finish (the stream never ends COMPLETE)",
  243: 'harness: messages sent after an unfinished one wait with it (the cursor stops before it)',
  100: 'emulator: a truncated empty OneSignal download read as whole yet kept the slot held',
  1220: 'connector: the private temp folder was left when a spool folder appeared while it was removed at exit (a SIGTERM during a download)',
  1818: 'connector: a spool folder still being made when a SIGINT came was made after the exit removed the private temp folder, so both were left',
  1099: "harness: a full refresh's new job has no state, so an export its predecessor's failed attempt recorded is unknowable",
};

/**
 * The seeds CI runs (test/e2e/soak.test.ts): together they reach every vendor state and stop point
 * three times over (test/unit/soak.test.ts checks once), and the regression seeds.
 */
export const CI_SEEDS = [
  ...new Set([
    29,
    51,
    53,
    65,
    66,
    81,
    219,
    226,
    261,
    280,
    297,
    ...Object.keys(REGRESSION_SEEDS).map(Number),
  ]),
].sort((a, b) => a - b);

export interface SeedResult {
  seed: number;
  violations: Violation[];
  chain?: ChainResult;
  /** The harness itself failed (not the connector). */
  crash?: string;
  ms: number;
}

export interface Summary {
  seeds: number;
  failed: number[];
  syncs: number;
  /** `SIGTERM at record` → how many stops fired; `… (not reached)` when the sync ended first. */
  stops: Record<string, number>;
  vendorStates: Record<string, number>;
  faults: Record<string, number>;
  violations: Record<string, number>;
  msPerSeed: { min: number; median: number; max: number };
  wallMs: number;
}

export const replayCommand = (seed: number) => `npm run soak -- --seed ${seed} --verbose`;

export async function runSeed(seed: number): Promise<SeedResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `spdm-soak-${seed}-`));
  try {
    const chain = await runChain(scenarioOf(seed), dir);
    return { seed, violations: checkChain(chain), chain, ms: Date.now() - started };
  } catch (err) {
    return {
      seed,
      violations: [],
      crash: (err as Error).stack ?? String(err),
      ms: Date.now() - started,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `seeds`, `parallel` at a time, calling `onResult` as each one ends. */
export async function runSeeds(
  seeds: number[],
  parallel: number,
  onResult: (r: SeedResult) => void = () => {},
): Promise<{ results: SeedResult[]; summary: Summary }> {
  const started = Date.now();
  const results: SeedResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < seeds.length) {
      const r = await runSeed(seeds[next++]);
      results.push(r);
      onResult(r);
      // The summary needs only the plan and the stops: a thousand seeds' output would not fit.
      for (const run of r.chain?.syncs ?? []) {
        run.lines = [];
        run.requests = [];
        run.stderr = '';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  results.sort((a, b) => a.seed - b.seed);
  return { results, summary: summarize(results, Date.now() - started) };
}

const bump = (o: Record<string, number>, k: string) => void (o[k] = (o[k] ?? 0) + 1);

export function summarize(results: SeedResult[], wallMs: number): Summary {
  const s: Summary = {
    seeds: results.length,
    failed: results.filter((r) => r.crash || r.violations.length).map((r) => r.seed),
    syncs: 0,
    stops: {},
    vendorStates: {},
    faults: {},
    violations: {},
    msPerSeed: { min: 0, median: 0, max: 0 },
    wallMs,
  };
  for (const r of results) {
    if (r.crash) bump(s.violations, 'harness_crash');
    for (const v of r.violations) bump(s.violations, v.invariant);
    if (!r.chain) continue;
    s.syncs += r.chain.syncs.length;
    for (const run of r.chain.syncs) {
      if (!run.stop) continue;
      const kind = `${run.stop.signal} at ${run.stop.at}`;
      bump(s.stops, run.signalledAt === undefined ? `${kind} (not reached)` : kind);
    }
    for (const a of r.chain.scenario.applied) bump(s.vendorStates, a);
    for (const f of r.chain.scenario.faults) bump(s.faults, f.fault.kind);
  }
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  if (ms.length)
    s.msPerSeed = { min: ms[0], median: ms[Math.floor(ms.length / 2)], max: ms.at(-1)! };
  return s;
}

/** A failure as the soak prints it: seed, each violated invariant with evidence, the replay. */
export function describeFailure(r: SeedResult): string {
  const lines = [`FAIL seed ${r.seed}`];
  if (r.crash) lines.push(`  harness crashed: ${r.crash}`);
  for (const v of r.violations)
    lines.push(`  ${v.invariant}${v.sync === undefined ? '' : ` (sync ${v.sync})`}: ${v.evidence}`);
  lines.push(`  replay: ${replayCommand(r.seed)}`);
  return lines.join('\n');
}

/** `a a a b` as `a×3 b`: a refused export is asked again many times. */
function runs(items: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < items.length;) {
    let j = i;
    while (items[j] === items[i]) j++;
    out.push(j - i > 1 ? `${items[i]}×${j - i}` : items[i]);
    i = j;
  }
  return out.join(' ');
}

/** The plan of a seed and what each sync did, for --verbose. */
export function describeChain(r: SeedResult): string {
  const c = r.chain;
  if (!c) return '';
  const s = c.scenario;
  const lines = [
    `seed ${s.seed}: providers ${s.providers.join(', ')}; window ${s.windowDays} day(s), lookback_days ${s.lookbackDays}`,
    `  vendor states: ${s.applied.join(', ') || 'none'}`,
    `  faults: ${s.faults.map((f) => `${JSON.stringify(f.fault)} before sync ${f.sync}`).join('; ') || 'none'}`,
  ];
  if (s.onesignal) {
    for (const a of s.onesignal.accounts)
      for (const app of a.apps)
        lines.push(
          `  onesignal ${a.accountId} app ${app.appId.slice(0, 8)}: ${app.messages
            .map(
              (m) =>
                `${m.id.slice(0, 8)}@${new Date(m.sendAfter * 1000).toISOString()}(${m.events} rows${m.completedAt === null ? ', unfinished' : ''}${m.canceled ? ', canceled' : ''})`,
            )
            .join(' ')}`,
        );
  }
  for (const run of c.syncs) {
    const count = (t: string) => run.lines.filter((l) => l.text.includes(`"type":"${t}"`)).length;
    const exports = run.requests.filter((q) => q.route === 'onesignal.export');
    const stop = run.stop
      ? `${run.stop.signal} at ${run.stop.at} #${run.stop.n} +${run.stop.delayMs} ms${run.signalledAt === undefined ? ' (not reached)' : ''}`
      : 'no stop';
    lines.push(
      `  sync ${run.index} (${run.kind}, ${stop}): exit ${run.code ?? run.signal} in ${run.ms} ms; ${count('RECORD')} records, ${count('STATE')} states; onesignal exports ${runs(exports.map((q) => `${q.path.split('/').at(-2)!.slice(0, 8)}:${q.status}`)) || '-'}${run.released.length ? `; released unnoted ${run.released.join(', ')}` : ''}`,
    );
    for (const l of run.lines) {
      if (l.text.includes('"type":"TRACE"') && l.text.includes('"ERROR"'))
        lines.push(`    error: ${l.text.slice(0, 400)}`);
    }
  }
  return lines.join('\n');
}
