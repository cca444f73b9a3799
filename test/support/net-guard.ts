/**
 * A safety net for tests that hand out URLs of internal addresses: no socket of this process
 * may connect anywhere but loopback. An IP literal that is not loopback fails at `connect`,
 * and a name that resolves to any address that is not loopback fails at `dns.lookup`, both
 * before a packet is sent, with an error naming the guard (so a test can tell the guard's
 * refusal from the connector's own). Names under `.test` (RFC 6761) resolve to 127.0.0.1, so
 * that a test may give the connector an API URL whose host is not loopback by name.
 *
 * In a test: `installNetGuard()`. In the connector's child process: preload this file with
 * `NODE_OPTIONS=--require <this file>` (see GUARDED_ENV); it installs itself.
 */
import dns from 'node:dns';
import net from 'node:net';
import { join } from 'node:path';

export const GUARD_MARK = 'net-guard refused';

/** The guard's refusals so far (this process). */
export const refusals: string[] = [];

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const isLoopback = (ip: string) => LOOPBACK.check(ip, net.isIP(ip) === 6 ? 'ipv6' : 'ipv4');

function refuse(what: string): Error {
  const message = `${GUARD_MARK} ${what}`;
  refusals.push(message);
  process.stderr.write(`${message}\n`);
  return Object.assign(new Error(message), { code: 'EACCES' });
}

let installed = false;

export function installNetGuard(): void {
  if (installed) return;
  installed = true;

  const connect = net.Socket.prototype.connect;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  net.Socket.prototype.connect = function (this: net.Socket, ...args: any[]) {
    // net.createConnection passes its normalized [options, callback] as one array.
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host: unknown =
      first && typeof first === 'object' ? (first as { host?: unknown }).host : args[1];
    const bare = typeof host === 'string' ? host.replace(/^\[(.*)\]$/, '$1') : '';
    if (net.isIP(bare) && !isLoopback(bare)) {
      const err = refuse(`a connection to ${bare}`);
      process.nextTick(() => this.destroy(err));
      return this;
    }
    return connect.apply(this, args as Parameters<typeof connect>);
  } as typeof connect;

  const lookup = dns.lookup;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (dns as any).lookup = function (hostname: string, options: any, callback?: any) {
    const cb = typeof options === 'function' ? options : callback;
    const opts: dns.LookupOptions =
      typeof options === 'object' && options !== null
        ? options
        : { family: typeof options === 'number' ? options : undefined };
    const answer = (err: Error | null, found: dns.LookupAddress[]) => {
      if (err) return cb(err);
      const outside = found.find((a) => !isLoopback(a.address));
      if (outside) return cb(refuse(`the address ${outside.address} of ${hostname}`));
      if (opts.all) return cb(null, found);
      cb(null, found[0].address, found[0].family);
    };
    if (hostname.endsWith('.test')) {
      return process.nextTick(() => answer(null, [{ address: '127.0.0.1', family: 4 }]));
    }
    lookup(hostname, { ...opts, all: true }, (err, found) => answer(err, found));
  };
}

/** Environment for a connector child process that runs under the guard. */
export const GUARDED_ENV = { NODE_OPTIONS: `--require ${join(__dirname, 'net-guard.js')}` };

if (require.main !== module && process.env.NODE_OPTIONS?.includes('net-guard')) installNetGuard();
