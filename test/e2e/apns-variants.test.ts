/**
 * The APNs streams against each variant of the answers Apple's docs leave open (status case and
 * spelling, dataUrl/dataURL, a list of download parts, statusURL, HTTP 202): every record
 * arrives; a status Apple does not document is reported in one warning per sync.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  APNS_REQUEST_VARIANTS,
  APNS_STATUS_VARIANTS,
  type ApnsStatusVariant,
} from '../../emulator/apns';
import { DEFAULT_APNS_TEAM } from '../../emulator/fixtures';
import { configuredCatalog, records, type RunResult } from '../../emulator/harness';
import { Emulator, type EmulatorOptions } from '../../emulator/server';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import { deliveryExpected } from '../support/apns';
import { ConnectorSession, errorsOf, logsOf } from '../support/e2e';

const TEAM = DEFAULT_APNS_TEAM;
const YESTERDAY = addDays(todayUtc(), -1);
const DAYS = daysBetween(addDays(todayUtc(), -30), YESTERDAY);
const UNKNOWN = 'Apple export status gave an answer this connector does not recognise';

/** What each status variant makes the connector log: Apple documents upper-case names only. */
const WARNING: Record<Exclude<ApnsStatusVariant, 'twoPartList'>, string | undefined> = {
  upper: undefined,
  lower: undefined,
  capitalized: undefined,
  succeeded: 'treating it as SUCCESS',
  queued: 'treating it as still running',
  dataURL: undefined,
  dataurl: undefined,
  onePartList: undefined,
};

describe('APNs streams with each variant of the undocumented answers', () => {
  const session = new ConnectorSession();

  /** A full read of `streams` against a fresh emulator with `variants`. */
  async function syncWith(
    variants: EmulatorOptions['apns'],
    streams: string[] = ['apns_delivery_metrics'],
  ): Promise<RunResult> {
    const emu = await Emulator.start({ apns: { processingPolls: 2, ...variants } });
    try {
      const config = {
        apns: {
          team_id: TEAM.teamId,
          bundle_id: TEAM.bundleId,
          delivery_metrics_token: TEAM.tokens.deliverymetrics,
          broadcast_app_token: TEAM.tokens.broadcastapplicationmetric,
          broadcast_channel_token: TEAM.tokens.broadcastchannelmetrics,
          channel_ids: TEAM.channelIds,
          api_url: emu.apiUrl,
        },
      };
      const catalog = configuredCatalog(await session.run('discover', { config }), 'full_refresh');
      const chosen = {
        streams: (catalog as { streams: { stream: { name: string } }[] }).streams.filter((s) =>
          streams.includes(s.stream.name),
        ),
      };
      return await session.run('read', { config, catalog: chosen });
    } finally {
      await emu.close();
    }
  }
  const warnings = (r: RunResult) =>
    logsOf(r, 'WARN').filter((l) => l.includes('does not recognise'));

  after(() => {
    session.assertNoLeaks(Object.values(TEAM.tokens) as string[]);
    session.cleanup();
  });

  for (const variant of APNS_STATUS_VARIANTS.filter((v) => v !== 'twoPartList')) {
    const warning = WARNING[variant as keyof typeof WARNING];
    it(`status "${variant}": all 30 days; ${warning ? 'one warning' : 'no warning'}`, async () => {
      const r = await syncWith({ statusVariant: variant });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, 'apns_delivery_metrics'), deliveryExpected(DAYS));
      const warned = warnings(r);
      if (!warning) {
        assert.deepEqual(warned, []);
        return;
      }
      assert.equal(warned.length, 1);
      assert.ok(warned[0].startsWith(`${UNKNOWN}; ${warning}. Please report it: {`), warned[0]);
      // The quoted answer keeps no download signature.
      assert.ok(!/signature=[0-9a-f]/.test(warned[0]), warned[0]);
    });
  }

  it('status "queued" on every export of a sync (4 exports, 3 streams): one warning', async () => {
    const r = await syncWith({ statusVariant: 'queued' }, [
      'apns_delivery_metrics',
      'apns_broadcast_app',
      'apns_broadcast_channel',
    ]);
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.equal(records(r, 'apns_broadcast_app').length, DAYS.length);
    assert.equal(records(r, 'apns_broadcast_channel').length, DAYS.length * 2);
    assert.equal(warnings(r).length, 1);
  });

  it('a status with several download parts fails clearly instead of reading one', async () => {
    const r = await syncWith({ statusVariant: 'twoPartList' });
    assert.equal(r.code, 1);
    const [e] = errorsOf(r);
    assert.equal(e.failure_type, 'system_error');
    assert.match(e.message, /Apple's answer lists 2 download parts; this connector reads one file/);
    assert.equal(records(r).length, 0);
  });

  for (const variant of APNS_REQUEST_VARIANTS) {
    it(`request answer "${variant}": all 30 days`, async () => {
      const r = await syncWith({ requestVariant: variant });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, 'apns_delivery_metrics'), deliveryExpected(DAYS));
      assert.deepEqual(warnings(r), []);
    });
  }
});
