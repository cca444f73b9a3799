import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Measured {
  code: number | null;
  seconds: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakMiB: number;
  /** stdout, unless `countRecords` (then it is counted as it streams by, not kept). */
  stdout: string;
  records: number;
  /** TRACE ERROR lines seen with `countRecords`. */
  errors: string[];
}

const RECORD = Buffer.from('{"type":"RECORD"');
const ERROR = Buffer.from('"type":"ERROR"');

/**
 * Runs a command, sampling its peak RSS from /proc until it exits. With `countRecords` its
 * stdout is scanned for RECORD lines on the fly, so gigabytes of output cost no disk or memory.
 */
export function measure(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; countRecords?: boolean } = {},
): Promise<Measured> {
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
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
  let records = 0;
  const errors: string[] = [];
  let carry = Buffer.alloc(0);
  child.stdout.on('data', (c: Buffer) => {
    if (!opts.countRecords) {
      out.push(c);
      return;
    }
    // Lines start after '\n'; a marker may straddle two chunks, hence the carry.
    const buf = carry.length ? Buffer.concat([carry, c]) : c;
    for (let i = buf.indexOf(RECORD); i !== -1; i = buf.indexOf(RECORD, i + RECORD.length))
      records++;
    for (let i = buf.indexOf(ERROR); i !== -1; i = buf.indexOf(ERROR, i + 1)) {
      errors.push(buf.subarray(Math.max(0, i - 200), i + 400).toString('utf8'));
    }
    carry = Buffer.from(buf.subarray(Math.max(0, buf.length - RECORD.length + 1)));
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({
        code,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakMiB: peakKiB / 1024,
        stdout: Buffer.concat(out).toString('utf8'),
        records,
        errors,
      });
    });
  });
}
