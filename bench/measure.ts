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
  // The last bytes of the previous chunk: a marker may straddle two chunks. Only this small edge
  // is copied, never a whole chunk (the reader must not be what holds the connector back).
  let carry = Buffer.alloc(0);
  const count = (buf: Buffer, marker: Buffer, found: (i: number) => void) => {
    for (let i = buf.indexOf(marker); i !== -1; i = buf.indexOf(marker, i + 1)) found(i);
  };
  child.stdout.on('data', (c: Buffer) => {
    if (!opts.countRecords) {
      out.push(c);
      return;
    }
    const longest = Math.max(RECORD.length, ERROR.length) - 1;
    // Markers across the edge: those that start in the carry and end in this chunk.
    const edge = Buffer.concat([carry, c.subarray(0, longest)]);
    const across = (i: number, m: Buffer) => i < carry.length && i + m.length > carry.length;
    count(edge, RECORD, (i) => across(i, RECORD) && records++);
    count(edge, ERROR, (i) => across(i, ERROR) && errors.push(edge.toString('utf8')));
    count(c, RECORD, () => records++);
    count(c, ERROR, (i) => errors.push(c.subarray(Math.max(0, i - 200), i + 400).toString('utf8')));
    carry = Buffer.from(c.subarray(Math.max(0, c.length - longest)));
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
