import { describeChain, describeFailure, runSeeds, CI_SEEDS } from './soak';

const USAGE = `usage: npm run soak -- [--seeds N] [--from S] [--seed S]... [--ci] [--parallel P] [--verbose] [--json]
  --seeds N     run N seeds, S..S+N-1 (S from --from, default 1); default 20
  --seed S      run seed S (repeatable): the replay of a failure
  --ci          the fixed seed set CI runs
  --parallel P  seeds at once (default 2; --jobs P is the same)
  --verbose     print each seed's plan and what each sync did
  --json        print the summary as JSON`;

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function int(flag: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min)
    usage(`${flag} needs an integer >= ${min}`);
  return n;
}

async function main(): Promise<void> {
  let count = 20;
  let from = 1;
  let parallel = 2;
  let verbose = false;
  let json = false;
  let seeds: number[] | undefined;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = () => inline ?? args[++i];
    if (flag === '--seeds') count = int(flag, value(), 1);
    else if (flag === '--from') from = int(flag, value(), 0);
    else if (flag === '--seed') (seeds ??= []).push(int(flag, value(), 0));
    else if (flag === '--ci') seeds = [...CI_SEEDS];
    else if (flag === '--parallel' || flag === '--jobs') parallel = int(flag, value(), 1);
    else if (flag === '--verbose') verbose = true;
    else if (flag === '--json') json = true;
    else if (flag === '--help' || flag === '-h') usage('');
    else usage(`unknown argument ${args[i]}`);
  }
  seeds ??= Array.from({ length: count }, (_, i) => from + i);
  const { results, summary } = await runSeeds(seeds, parallel, (r) => {
    const bad = r.crash || r.violations.length;
    process.stdout.write(
      `seed ${r.seed}: ${bad ? 'FAIL' : 'ok'} (${(r.ms / 1000).toFixed(1)} s)\n`,
    );
    // A failure shows what each sync did too: a timing-dependent path may not replay.
    if (verbose || bad) process.stdout.write(`${describeChain(r)}\n`);
    if (bad) process.stdout.write(`${describeFailure(r)}\n`);
  });
  const failures = results.filter((r) => r.crash || r.violations.length);
  if (json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    const line = (o: Record<string, number>) =>
      Object.entries(o)
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none';
    process.stdout.write(
      [
        '',
        `soak: ${summary.seeds} seed(s), ${summary.syncs} syncs, ${(summary.wallMs / 1000).toFixed(1)} s; per seed ${summary.msPerSeed.min}..${summary.msPerSeed.max} ms (median ${summary.msPerSeed.median})`,
        `  stops: ${line(summary.stops)}`,
        `  vendor states: ${line(summary.vendorStates)}`,
        `  faults: ${line(summary.faults)}`,
        `  violations: ${line(summary.violations)}`,
        failures.length
          ? `  failed seeds: ${summary.failed.join(' ')}\n  replay one: npm run soak -- --seed ${summary.failed[0]} --verbose`
          : '  every invariant held',
        '',
      ].join('\n'),
    );
  }
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
