import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * A URL fit for a log line: query values are replaced, since download URLs carry signatures
 * and some APIs take keys in the query string.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.search) return u.toString();
    const keys = [...u.searchParams.keys()];
    return `${u.origin}${u.pathname}?${keys.map((k) => `${encodeURIComponent(k)}=…`).join('&')}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** localhost, 127.0.0.0/8 or [::1], spelled as a URL's hostname. */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

const LOOPBACK = 'a loopback address';

/** Addresses no redirect may lead to (cloud metadata, the pod's own network), by kind. */
const SPECIAL_RANGES: [kind: string, ranges: [network: string, prefix: number][]][] = [
  [
    LOOPBACK,
    [
      ['127.0.0.0', 8],
      ['::1', 128],
    ],
  ],
  [
    'a private address',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
      ['fc00::', 7],
    ],
  ],
  ['a shared (CGNAT) address', [['100.64.0.0', 10]]],
  [
    'a link-local address',
    [
      ['169.254.0.0', 16],
      ['fe80::', 10],
    ],
  ],
  [
    'an unspecified address',
    [
      ['0.0.0.0', 8],
      ['::', 128],
    ],
  ],
];

const familyOf = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

const KINDS = SPECIAL_RANGES.map(([kind, ranges]) => {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, familyOf(network));
  return { kind, list };
});

/** What kind of special address `ip` is ("a private address"), or undefined for a public one. */
export function addressKind(ip: string): string | undefined {
  // BlockList also matches IPv4-mapped IPv6 addresses (::ffff:169.254.169.254) to IPv4 ranges.
  return KINDS.find((k) => k.list.check(ip, familyOf(ip)))?.kind;
}

/** Thrown (through the socket) when a redirect's host resolves to an address it may not reach. */
export class UrlPolicyError extends Error {
  readonly code = 'ERR_URL_POLICY';
}

/**
 * Which URLs a client may request and be redirected to. A vendor hands out status and download
 * URLs, and their hosts may redirect anywhere: only https is allowed, and a redirect never
 * leads to the pod's own or internal network, where cloud metadata answers.
 */
export class UrlPolicy {
  constructor(
    /** The configured API's origin (errors there are the config's, not the vendor's). */
    readonly apiOrigin: string | undefined,
    /** The API itself is on a loopback host (tests, a local proxy): loopback http is allowed. */
    readonly allowLoopback: boolean,
  ) {}

  /** Why `url` may not be requested, or undefined. */
  requestProblem(url: URL): string | undefined {
    if (url.protocol === 'https:') return undefined;
    if (url.protocol !== 'http:') return `only https URLs are allowed`;
    if (this.allowLoopback && isLoopbackHost(url.hostname)) return undefined;
    return this.allowLoopback
      ? `plain http is allowed only to a loopback host`
      : `plain http is not allowed, only https`;
  }

  /** Why a redirect from `from` to `to` may not be followed (before any DNS lookup), or undefined. */
  redirectProblem(from: URL, to: URL): string | undefined {
    if (from.protocol === 'https:' && to.protocol !== 'https:') {
      return 'it would downgrade https to http';
    }
    const host = to.hostname.replace(/^\[(.*)\]$/, '$1');
    const kind = isIP(host) ? this.refusedKind(host) : undefined;
    return kind ? `${host} is ${kind}` : this.requestProblem(to);
  }

  /** The kind of `address` when a redirect may not connect to it. */
  refusedKind(address: string): string | undefined {
    const kind = addressKind(address);
    return kind === LOOPBACK && this.allowLoopback ? undefined : kind;
  }

  isApiOrigin(url: URL): boolean {
    return url.origin === this.apiOrigin;
  }

  /**
   * A DNS lookup for the sockets of redirect hops: it refuses a name that resolves to any
   * address `refusedKind` refuses, so the check holds for what is actually connected to.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, []);
      const addresses = found as unknown as LookupAddress[];
      for (const { address } of addresses) {
        const kind = this.refusedKind(address);
        if (kind)
          return callback(new UrlPolicyError(`${hostname} resolves to ${address}, ${kind}`), []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** https only, no loopback: for a client that has no API URL of its own. */
export const STRICT_URL_POLICY = new UrlPolicy(undefined, false);

/** The policy of a provider whose API is at `apiUrl` (a config's validated `api_url`). */
export function urlPolicyFor(apiUrl: string): UrlPolicy {
  const u = new URL(apiUrl);
  return new UrlPolicy(u.origin, isLoopbackHost(u.hostname));
}
