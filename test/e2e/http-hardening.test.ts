/**
 * The built connector against download URLs that turn hostile: a file host redirecting to the
 * cloud metadata address must fail the stream at once, quoting nothing that answered.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_APNS_TEAM, onesignalFixture } from '../../emulator/fixtures';
import { configuredCatalog } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import { addDays, todayUtc } from '../../src/util/time';
import { ConnectorSession, errorsOf } from '../support/e2e';

const METADATA = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
const REFUSED = `the redirect to ${METADATA} is refused: 169.254.169.254 is a link-local address.`;

describe('hostile download redirects end to end', () => {
  let emu: Emulator;
  const session = new ConnectorSession();
  const account = onesignalFixture(new Date());
  before(async () => {
    emu = await Emulator.start({
      apns: { processingPolls: 0 },
      onesignal: { recordsPerSecond: 500_000, rateLimitWindowMs: 5 },
    });
  });
  beforeEach(() => emu.reset());
  after(async () => {
    await emu.close();
    session.assertNoLeaks([
      ...(Object.values(DEFAULT_APNS_TEAM.tokens) as string[]),
      ...account.apps.map((a) => a.apiKey),
    ]);
    session.cleanup();
  });

  async function read(config: Record<string, unknown>, state?: unknown) {
    const d = await session.run('discover', { config });
    return session.run('read', { config, catalog: configuredCatalog(d, 'incremental'), state });
  }

  it('APNs: a download redirected to 169.254.169.254 fails with a system_error, not retried', async () => {
    const T = DEFAULT_APNS_TEAM;
    const config = {
      apns: {
        team_id: T.teamId,
        bundle_id: T.bundleId,
        delivery_metrics_token: T.tokens.deliverymetrics,
        api_url: emu.apiUrl,
      },
    };
    const yesterday = addDays(todayUtc(), -1);
    const state = [
      {
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: 'apns_delivery_metrics' },
          stream_state: { date: yesterday },
        },
      },
    ];
    emu.inject({ kind: 'redirect', route: 'apns.download', location: METADATA, times: Infinity });
    const r = await read(config, state);
    assert.equal(r.code, 1);
    const [error] = errorsOf(r);
    assert.equal(error.failure_type, 'system_error');
    assert.ok(error.message.endsWith(REFUSED), error.message);
    assert.equal(emu.requests.filter((q) => q.route === 'apns.download').length, 1);
  });

  it('OneSignal: a file URL redirected to 169.254.169.254 fails the same way', async () => {
    const app = account.apps[0];
    const config = {
      onesignal: { apps: [{ app_id: app.appId, api_key: app.apiKey }], api_url: emu.apiUrl },
    };
    emu.inject({
      kind: 'redirect',
      route: 'onesignal.download',
      location: METADATA,
      times: Infinity,
    });
    const r = await read(config);
    assert.equal(r.code, 1);
    const [error] = errorsOf(r);
    assert.equal(error.failure_type, 'system_error');
    assert.ok(error.message.endsWith(REFUSED), error.message);
    assert.equal(emu.requests.filter((q) => q.route === 'onesignal.download').length, 1);
  });
});
