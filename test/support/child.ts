import { type ChildProcess, spawn } from 'node:child_process';

/** A child process watched by a test: its output so far, and when and how it exited. */
export interface WatchedChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Starts reading stdout, for a child spawned with `readStdout: false`. */
  readStdout(): void;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Spawns `command`. With `readStdout: false` nobody reads its stdout, so that the child's
 * writes block on a full pipe, as with a slow platform.
 */
export function watch(
  command: string[],
  options: { env?: Record<string, string>; readStdout?: boolean } = {},
): WatchedChild {
  const [cmd, ...args] = command;
  const proc = spawn(cmd, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const read = () => proc.stdout!.on('data', (c: Buffer) => out.push(c));
  if (options.readStdout !== false) read();
  proc.stderr!.on('data', (c: Buffer) => err.push(c));
  return {
    proc,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    readStdout: read,
    exit: new Promise((resolve, reject) => {
      proc.on('error', reject);
      proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    }),
  };
}

/** Waits until `ready()` holds, checking every 20 ms; fails after `timeoutMs`. */
export async function until(what: string, ready: () => boolean, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends `signal` and resolves to the exit, with the seconds it took. */
export async function signalAndWait(
  child: WatchedChild,
  signal: NodeJS.Signals,
  pid = child.proc.pid!,
): Promise<{ code: number | null; seconds: number }> {
  const sent = Date.now();
  process.kill(pid, signal);
  const { code, at } = await child.exit;
  return { code, seconds: (at - sent) / 1000 };
}
