import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Measured {
  code: number | null;
  seconds: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakMiB: number;
  stdout: string;
}

/** Runs a command, sampling its peak RSS from /proc until it exits. */
export function measure(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; stdoutFd?: number } = {},
): Promise<Measured> {
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.stdoutFd ?? 'pipe', 'inherit'],
  });
  let peakKiB = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // The process has gone; the last sample stands.
    }
  };
  const timer = setInterval(sample, 20);
  const out: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({
        code,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakMiB: peakKiB / 1024,
        stdout: Buffer.concat(out).toString('utf8'),
      });
    });
  });
}
