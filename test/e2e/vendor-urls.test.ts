/**
 * The URL policy on the first request to every URL a vendor hands out (APNs status URL and
 * dataUrl, OneSignal csv_file_url, Pushwoosh tracking-log link), end to end: the emulator hands
 * out URLs of internal addresses, and the connector must refuse them before connecting. The
 * connector runs under the net guard (test/support/net-guard.ts), so that even a connector that
 * did try would send nothing to those addresses: the guard's own refusal would then show.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  DEFAULT_APNS_TEAM,
  DEFAULT_PUSHWOOSH_ACCOUNT,
  onesignalFixture,
} from '../../emulator/fixtures';
import { configuredCatalog, records } from '../../emulator/harness';
import { Emulator, type HandedOutOrigins } from '../../emulator/server';
import { addDays, todayUtc } from '../../src/util/time';
import { apnsState, deliveryExpected } from '../support/apns';
import { ConnectorSession, errorsOf } from '../support/e2e';
import { GUARD_MARK, GUARDED_ENV } from '../support/net-guard';
import { pushwooshState, trackingExpected } from '../support/pushwoosh';
import { readRepoFile, repoPath } from '../support/repo';

const TEAM = DEFAULT_APNS_TEAM;
const PW = DEFAULT_PUSHWOOSH_ACCOUNT;
const YESTERDAY = addDays(todayUtc(), -1);
const BEFORE = addDays(YESTERDAY, -1);
/** An emulator certificate for 127.0.0.1 and emulator.test (which the net guard resolves). */
const TLS = {
  cert: readRepoFile('test', 'fixtures', 'tls', 'emulator-cert.pem'),
  key: readRepoFile('test', 'fixtures', 'tls', 'emulator-key.pem'),
};
const TRUST_TLS = {
  NODE_EXTRA_CA_CERTS: repoPath('test', 'fixtures', 'tls', 'emulator-cert.pem'),
};

type Provider = 'apns' | 'onesignal' | 'pushwoosh';

/** One unit of work per provider: yesterday's export (APNs, Pushwoosh) or one OneSignal message. */
function setup(provider: Provider, apiUrl: string, account: ReturnType<typeof onesignalFixture>) {
  const lookback = { lookback_days: 0 };
  if (provider === 'apns') {
    return {
      config: {
        ...lookback,
        apns: {
          team_id: TEAM.teamId,
          bundle_id: TEAM.bundleId,
          delivery_metrics_token: TEAM.tokens.deliverymetrics,
          api_url: apiUrl,
        },
      },
      state: apnsState('apns_delivery_metrics', { [TEAM.bundleId]: BEFORE }),
      streams: ['apns_delivery_metrics'],
    };
  }
  if (provider === 'onesignal') {
    const app = account.apps[0];
    return {
      config: {
        onesignal: { apps: [{ app_id: app.appId, api_key: app.apiKey }], api_url: apiUrl },
      },
      state: undefined,
      streams: ['onesignal_message_events'],
    };
  }
  return {
    config: {
      ...lookback,
      pushwoosh: {
        api_token: PW.apiToken,
        application_code: PW.applicationCode,
        log_api: 'tracking_log',
        api_url: apiUrl,
      },
    },
    state: pushwooshState({ [PW.applicationCode]: BEFORE }),
    streams: ['pushwoosh_tracking'],
  };
}

describe('URLs handed out by vendors, on their first request', () => {
  let plain: Emulator;
  let secure: Emulator;
  const guarded = new ConnectorSession(GUARDED_ENV);
  const trusting = new ConnectorSession({ ...GUARDED_ENV, ...TRUST_TLS });
  const account = onesignalFixture(new Date());
  const emulatorOptions = {
    apns: { processingPolls: 0 },
    onesignal: { recordsPerSecond: 500_000, rateLimitWindowMs: 5 },
    pushwoosh: { pendingPolls: 0 },
  };

  before(async () => {
    [plain, secure] = await Promise.all([
      Emulator.start(emulatorOptions),
      Emulator.start({ ...emulatorOptions, tls: TLS }),
    ]);
  });
  beforeEach(() => {
    plain.reset();
    secure.reset();
  });
  after(async () => {
    await Promise.all([plain.close(), secure.close()]);
    for (const session of [guarded, trusting]) {
      session.assertNoLeaks([
        PW.apiToken,
        ...(Object.values(TEAM.tokens) as string[]),
        ...account.apps.map((a) => a.apiKey),
      ]);
      session.cleanup();
    }
  });

  const catalogs = new Map<Provider, unknown>();
  async function read(
    session: ConnectorSession,
    provider: Provider,
    apiUrl: string,
    handOut: HandedOutOrigins,
    emu: Emulator,
  ) {
    emu.handOut(handOut);
    const { config, state, streams } = setup(provider, apiUrl, account);
    // The catalog does not depend on the URLs: one discover per provider.
    if (!catalogs.has(provider)) {
      const d = await session.run('discover', { config });
      catalogs.set(provider, configuredCatalog(d, 'incremental', streams));
    }
    return session.run('read', { config, catalog: catalogs.get(provider), state });
  }

  /** The run failed with the policy's refusal of `url`, and the net guard refused nothing. */
  function assertRefused(
    r: Awaited<ReturnType<typeof read>>,
    what: RegExp,
    kind: 'URL' | 'file URL',
    url: string,
    problem: string,
  ) {
    assert.doesNotMatch(r.stderr, new RegExp(GUARD_MARK), 'the connector tried to connect');
    assert.equal(r.code, 1);
    const errors = errorsOf(r);
    assert.ok(errors.length > 0, 'an error was reported');
    const error = errors[errors.length - 1];
    assert.equal(error.failure_type, 'system_error', error.message);
    const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(
      error.message,
      new RegExp(`${what.source}: the ${kind} ${escaped}\\S* is refused: ${problem}\\.$`),
    );
  }

  /** The URL of each kind that each provider hands out, and how its errors begin. */
  const KINDS = {
    'APNs status URL': { provider: 'apns', origin: 'status', what: /APNs .* status/, file: false },
    'APNs dataUrl': { provider: 'apns', origin: 'files', what: /APNs .* download/, file: true },
    'OneSignal csv_file_url': {
      provider: 'onesignal',
      origin: 'files',
      what: /OneSignal .* file/,
      file: true,
    },
    'Pushwoosh file link': {
      provider: 'pushwoosh',
      origin: 'files',
      what: /Pushwoosh .* download/,
      file: true,
    },
  } as const;
  type Kind = keyof typeof KINDS;

  // Internal addresses by IP literal: refused for a loopback api_url too (the emulator's own).
  const cases: [Kind, string, string][] = [
    ['APNs status URL', 'https://10.0.0.1', '10.0.0.1 is a private address'],
    ['APNs dataUrl', 'https://169.254.169.254', '169.254.169.254 is a link-local address'],
    [
      'OneSignal csv_file_url',
      'https://169.254.169.254:8443',
      '169.254.169.254 is a link-local address',
    ],
    ['OneSignal csv_file_url', 'https://[fd00::1]', 'fd00::1 is a private address'],
    ['Pushwoosh file link', 'https://10.1.2.3', '10.1.2.3 is a private address'],
    ['Pushwoosh file link', 'https://100.64.0.9', '100.64.0.9 is a shared \\(CGNAT\\) address'],
  ];
  for (const [kind, origin, problem] of cases) {
    it(`${kind} on ${origin}: refused before any connection`, async () => {
      const k = KINDS[kind];
      const r = await read(guarded, k.provider, plain.apiUrl, { [k.origin]: origin }, plain);
      assertRefused(r, k.what, k.file ? 'file URL' : 'URL', origin, problem);
    });
  }

  // Loopback vendor URLs while api_url is not loopback (emulator.test, resolved to 127.0.0.1
  // by the net guard): by IP literal, and by a name that DNS resolves to loopback.
  const API = () => secure.apiUrl.replace('127.0.0.1', 'emulator.test');
  const FILES = () => secure.filesUrl.replace('127.0.0.1', 'emulator.test');
  const LOCALHOST = () => secure.filesUrl.replace('127.0.0.1', 'localhost');
  const loopbackCases: [Kind, () => HandedOutOrigins, () => string, string][] = [
    ['APNs status URL', () => ({}), () => secure.apiUrl, '127.0.0.1 is a loopback address'],
    [
      'APNs dataUrl',
      () => ({ status: API() }),
      () => secure.filesUrl,
      '127.0.0.1 is a loopback address',
    ],
    [
      'OneSignal csv_file_url',
      () => ({ files: LOCALHOST() }),
      LOCALHOST,
      'localhost resolves to (127\\.0\\.0\\.1|::1), a loopback address',
    ],
    [
      'Pushwoosh file link',
      () => ({ files: FILES() }),
      FILES,
      'emulator\\.test resolves to 127\\.0\\.0\\.1, a loopback address',
    ],
  ];
  for (const [kind, handOut, url, problem] of loopbackCases) {
    it(`${kind} on loopback (${problem.replace(/\\/g, '')}): refused when api_url is not loopback`, async () => {
      const k = KINDS[kind];
      const r = await read(trusting, k.provider, API(), handOut(), secure);
      assertRefused(r, k.what, k.file ? 'file URL' : 'URL', url(), problem);
      assert.equal(secure.requests.filter((q) => q.origin === 'files').length, 0);
    });
  }

  it('... while the API itself answers at that api_url (the set-up works)', async () => {
    const config = {
      pushwoosh: {
        api_token: PW.apiToken,
        application_code: PW.applicationCode,
        api_url: API(),
      },
    };
    const r = await trusting.run('check', { config });
    const status = r.messages.find((m) => m.type === 'CONNECTION_STATUS');
    assert.equal(status?.connectionStatus.status, 'SUCCEEDED', JSON.stringify(status));
  });

  // Plain http is not allowed with an https api_url, so a vendor's http:// file link is fetched
  // over https; the files listener speaks only https, so a plain http request would fail.
  const upgrades: [Provider, string, () => Record<string, unknown>[]][] = [
    ['pushwoosh', 'pushwoosh_tracking', () => trackingExpected([YESTERDAY])],
    ['apns', 'apns_delivery_metrics', () => deliveryExpected([YESTERDAY])],
  ];
  for (const [provider, stream, expected] of upgrades) {
    it(`${provider}: an http:// file link is fetched over https`, async () => {
      const link = secure.filesUrl.replace(/^https:/, 'http:');
      const r = await read(trusting, provider, secure.apiUrl, { files: link }, secure);
      assert.doesNotMatch(r.stderr, new RegExp(GUARD_MARK));
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, stream), expected());
      const downloads = secure.requests.filter((q) => q.origin === 'files');
      assert.ok(downloads.length >= 1 && downloads.every((q) => q.status === 200));
    });
  }
});
