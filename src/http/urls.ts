import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
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

/** Addresses no vendor URL may lead to (cloud metadata, the pod's own network), by kind. */
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

/** Thrown (through the socket) when a checked host resolves to an address it may not reach. */
export class UrlPolicyError extends Error {
  readonly code = 'ERR_URL_POLICY';
}

/** The resolver behind `UrlPolicy.lookup`: `dns.lookup` with `all: true`. */
export type Resolve = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolve: Resolve = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, callback);

/**
 * Which URLs a client may request. The configured API origin is the user's choice and is only
 * held to its scheme. Every other URL (a vendor's status, data and file URLs, and every redirect
 * hop, even back to the API origin) is a vendor's: it must be https, or loopback http while the
 * API URL is itself loopback http; a vendor's http file link is upgraded to https instead (see
 * `upgraded`). It never reaches a private, CGNAT, link-local or unspecified address, nor a
 * loopback one unless the API host is loopback: checked on an IP literal before the request,
 * and on what DNS resolves by `lookup`, the lookup of the sockets it connects.
 */
export class UrlPolicy {
  constructor(
    /** The configured API's origin (errors there are the config's, not the vendor's). */
    readonly apiOrigin: string | undefined,
    /** The API itself is on a loopback host (tests, a local proxy): loopback addresses are allowed. */
    readonly allowLoopback: boolean,
    /** The API URL is plain http on a loopback host: plain http is allowed to loopback hosts. */
    readonly allowLoopbackHttp = allowLoopback,
    private readonly resolve: Resolve = systemResolve,
  ) {}

  /** Why `url` may not be requested, by its scheme alone, or undefined. */
  requestProblem(url: URL): string | undefined {
    if (url.protocol === 'https:') return undefined;
    if (url.protocol !== 'http:') return `only https URLs are allowed`;
    if (this.allowLoopbackHttp && isLoopbackHost(url.hostname)) return undefined;
    return this.allowLoopbackHttp
      ? `plain http is allowed only to a loopback host`
      : `plain http is not allowed, only https`;
  }

  /**
   * Why a vendor's URL may not be requested (before any DNS lookup), or undefined: its scheme,
   * or an IP literal (which no lookup sees) of a kind `refusedKind` refuses.
   */
  vendorProblem(url: URL): string | undefined {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const kind = isIP(host) ? this.refusedKind(host) : undefined;
    return kind ? `${host} is ${kind}` : this.requestProblem(url);
  }

  /** Why a redirect from `from` to `to` may not be followed (before any DNS lookup), or undefined. */
  redirectProblem(from: URL, to: URL): string | undefined {
    if (from.protocol === 'https:' && to.protocol !== 'https:') {
      return 'it would downgrade https to http';
    }
    return this.vendorProblem(to);
  }

  /**
   * A vendor's file link as it is requested: an http link that plain http may not reach becomes
   * https (Pushwoosh documents its files as http://); never the other way.
   */
  upgraded(url: URL): URL {
    if (url.protocol !== 'http:' || this.requestProblem(url) === undefined) return url;
    const https = new URL(url.href);
    https.protocol = 'https:';
    return https;
  }

  /** The kind of `address` when a vendor's URL may not connect to it. */
  refusedKind(address: string): string | undefined {
    const kind = addressKind(address);
    return kind === LOOPBACK && this.allowLoopback ? undefined : kind;
  }

  isApiOrigin(url: URL): boolean {
    return url.origin === this.apiOrigin;
  }

  /**
   * The DNS lookup of the sockets of vendor URLs: it refuses a name that resolves to any address
   * `refusedKind` refuses, so the check holds for what is actually connected to (the socket
   * connects to one of these very addresses; no second lookup can answer differently).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, options, (err, found) => {
      if (err || found.length === 0) {
        const none = Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
        return callback(err ?? none, []);
      }
      for (const { address } of found) {
        const kind = this.refusedKind(address);
        if (kind)
          return callback(new UrlPolicyError(`${hostname} resolves to ${address}, ${kind}`), []);
      }
      if (options.all) return callback(null, found);
      callback(null, found[0].address, found[0].family);
    });
  };
}

/** https only, no loopback: for a client that has no API URL of its own. */
export const STRICT_URL_POLICY = new UrlPolicy(undefined, false);

/** The policy of a provider whose API is at `apiUrl` (a config's validated `api_url`). */
export function urlPolicyFor(apiUrl: string): UrlPolicy {
  const u = new URL(apiUrl);
  const loopback = isLoopbackHost(u.hostname);
  return new UrlPolicy(u.origin, loopback, loopback && u.protocol === 'http:');
}
