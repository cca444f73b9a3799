import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * How the process stops early: on SIGTERM (the platform's cancel, `docker stop`), on SIGINT, or
 * when the reader of stdout goes away. Work in flight listens to `shutdown.signal`; whatever must
 * not be left behind (spooled temp files) registers a cleanup.
 */
type Cleanup = () => Promise<void> | void;

const controller = new AbortController();
const cleanups = new Set<Cleanup>();

export const shutdown: {
  /** Aborted on SIGTERM, SIGINT and when stdout is closed. */
  readonly signal: AbortSignal;
  /** Registers `fn` to run before the process exits early; returns its unregister. */
  onCleanup(fn: Cleanup): () => void;
} = {
  signal: controller.signal,
  onCleanup(fn) {
    cleanups.add(fn);
    return () => {
      cleanups.delete(fn);
    };
  },
};

export interface ShutdownOptions {
  /** Says in one line why the process stops on a signal. */
  log(message: string): void;
  /** Longest wait for the cleanups; default 3 s. */
  cleanupTimeoutMs?: number;
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
/** Exit code when stdout is closed: what a process killed by SIGPIPE reports. */
const STDOUT_CLOSED_CODE = 128 + 13;

let stopping = false;

/** Runs every cleanup at once; one that fails or hangs does not hold up the others or the exit. */
async function runCleanups(timeoutMs: number): Promise<void> {
  const all = Promise.allSettled([...cleanups].map(async (fn) => fn()));
  cleanups.clear();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([all, late]);
  clearTimeout(timer);
}

/** A reader that took nothing from stdout for this long is taken to be gone. */
const STALLED_MS = 1000;

/**
 * Resolves once everything already written to stdout has been handed to the OS, or when the
 * reader took nothing for STALLED_MS, or after `timeoutMs`. process.exit() drops a pipe write
 * still under way, which cut a line in two.
 */
function stdoutFlushed(timeoutMs: number): Promise<void> {
  const out = process.stdout;
  const start = Date.now();
  let left = out.writableLength;
  let moved = start;
  return new Promise((resolve) => {
    const check = () => {
      const now = Date.now();
      if (out.writableLength !== left) [left, moved] = [out.writableLength, now];
      if (out.destroyed || left === 0 || now - moved >= STALLED_MS || now - start >= timeoutMs)
        return resolve();
      setTimeout(check, 20);
    };
    check();
  });
}

/**
 * Logs, aborts work in flight (the message writer then writes nothing more), runs the cleanups
 * and lets stdout flush what it holds, then exits with `code`: stdout ends on a line boundary.
 * Only a reader that stops reading for the whole wait can still see a cut line.
 */
function stop(
  message: string,
  code: number,
  log: (message: string) => void,
  timeoutMs: number,
): void {
  stopping = true;
  log(message);
  controller.abort(new Error(message));
  void Promise.all([runCleanups(timeoutMs), stdoutFlushed(timeoutMs)]).then(() =>
    process.exit(code),
  );
}

/**
 * Installs the process's handlers, once, in the CLI. They are needed as PID 1 too (in Docker),
 * where the kernel gives a process no default action for SIGTERM or SIGINT.
 */
export function installSignalHandlers(options: ShutdownOptions): void {
  const timeoutMs = options.cleanupTimeoutMs ?? 3000;
  for (const [name, number] of Object.entries(SIGNALS)) {
    process.on(name, () => {
      // A second signal means "now".
      if (stopping) process.exit(128 + number);
      const message = `Received ${name}: stopping the sync and removing temporary files.`;
      stop(message, 128 + number, options.log, timeoutMs);
    });
  }
  // EPIPE when the reader closed stdout (`connector read … | head -1`): without this listener it
  // is an unhandled 'error' event and a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stopping) return;
    const message = `stdout was closed (${err.code ?? err.message}): stopping the sync.`;
    stop(message, STDOUT_CLOSED_CODE, (m) => process.stderr.write(`${m}\n`), timeoutMs);
  });
  // With stderr gone too there is nowhere left to report to.
  process.stderr.on('error', () => {});
}

/**
 * Points `os.tmpdir()` at a directory of this process's own, removed when the process exits
 * however it exits (but SIGKILL), so that spooled files of a cancelled sync never stay behind.
 * Temp files of other processes sharing the machine's tmpdir are never touched. When the
 * directory cannot be made, nothing changes.
 */
export function usePrivateTmpdir(): void {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'spdm-run-'));
  } catch {
    return;
  }
  process.env.TMPDIR = dir;
  // A spool folder may still be made by a file-system call in flight while the process exits:
  // the removal then meets a folder no longer empty, and tries again rather than leave it.
  process.on('exit', () => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
    } catch {
      // Nothing more can be done while exiting.
    }
  });
}
