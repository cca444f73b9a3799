/**
 * pushwoosh_tracking against each variant of Pushwoosh's undocumented answers that the emulator
 * can serve: every record arrives, and an answer the connector does not recognise is reported in
 * exactly one warning per sync, without the token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PUSHWOOSH_ACCOUNT } from '../../emulator/fixtures';
import { configuredCatalog, records, type RunResult } from '../../emulator/harness';
import {
  PUSHWOOSH_MESSAGE_LOG_VARIANTS,
  PUSHWOOSH_PENDING_VARIANTS,
  PUSHWOOSH_READY_VARIANTS,
  type PushwooshPendingVariant,
} from '../../emulator/pushwoosh';
import { Emulator, type EmulatorOptions } from '../../emulator/server';
import { REDACTED } from '../../src/airbyte/redact';
import { addDays, daysBetween, todayUtc } from '../../src/util/time';
import { ConnectorSession, errorsOf, logsOf } from '../support/e2e';
import { messageLogExpected, trackingExpected } from '../support/pushwoosh';

const STREAM = 'pushwoosh_tracking';
const ACCOUNT = DEFAULT_PUSHWOOSH_ACCOUNT;
const YESTERDAY = addDays(todayUtc(), -1);
const UNKNOWN = 'Pushwoosh getResults gave an answer this connector does not recognise';

/** Answers that say "not ready" in words: read as such without a warning. */
const SAYS_PENDING: PushwooshPendingVariant[] = [
  'status210',
  'status210Processing',
  'responseStatusPending',
  'responseStatusQueued',
  'statusProcessing',
  'statusInProgress',
  'http210',
  'plainText',
];

describe('pushwoosh_tracking with each variant of the undocumented answers', () => {
  const session = new ConnectorSession();
  let catalog: unknown;

  /** A read against a fresh emulator with `variants`; from `since` when given, else in full. */
  async function syncWith(
    logApi: 'tracking_log' | 'message_log',
    variants: EmulatorOptions['pushwoosh'],
    since?: string,
  ): Promise<{ r: RunResult; emu: Emulator }> {
    const emu = await Emulator.start({ pushwoosh: variants });
    try {
      const pushwoosh = {
        api_token: ACCOUNT.apiToken,
        application_code: ACCOUNT.applicationCode,
        log_api: logApi,
        api_url: emu.apiUrl,
      };
      const config = since ? { start_date: since, pushwoosh } : { pushwoosh };
      return { r: await session.run('read', { config, catalog }), emu };
    } finally {
      await emu.close();
    }
  }
  const warnings = (r: RunResult) =>
    logsOf(r, 'WARN').filter((l) => l.includes('does not recognise'));

  before(async () => {
    const emu = await Emulator.start();
    try {
      const config = {
        pushwoosh: {
          api_token: ACCOUNT.apiToken,
          application_code: ACCOUNT.applicationCode,
          api_url: emu.apiUrl,
        },
      };
      catalog = configuredCatalog(await session.run('discover', { config }), 'full_refresh');
    } finally {
      await emu.close();
    }
  });
  after(() => {
    session.assertNoLeaks([ACCOUNT.apiToken]);
    session.cleanup();
  });

  for (const variant of PUSHWOOSH_PENDING_VARIANTS) {
    const known = SAYS_PENDING.includes(variant);
    it(`getResults "${variant}" while pending: all 14 days; ${known ? 'no warning' : 'one warning'}`, async () => {
      const { r, emu } = await syncWith('tracking_log', {
        pendingVariant: variant,
        pendingPolls: 1,
      });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const days = daysBetween(addDays(YESTERDAY, -12), YESTERDAY);
      assert.deepEqual(records(r, STREAM), trackingExpected(days));
      const polls = emu.requests.filter((x) => x.route === 'pushwoosh.getResults').length;
      assert.equal(polls, days.length * 2, 'a pending answer, then the file, for each day');
      const warned = warnings(r);
      if (known) {
        assert.deepEqual(warned, []);
        return;
      }
      assert.equal(warned.length, 1, `${polls - days.length} pending answers, one warning`);
      assert.ok(
        warned[0].startsWith(`${UNKNOWN}; treating it as not ready yet. Please report it: `),
      );
      assert.ok(warned[0].length < UNKNOWN.length + 400, 'the answer is quoted briefly');
      if (variant === 'echoRequest') assert.ok(warned[0].includes(`"auth":"${REDACTED}"`));
    });
  }

  for (const variant of PUSHWOOSH_READY_VARIANTS) {
    it(`getResults "${variant}" when ready: the file is downloaded`, async () => {
      const since = addDays(YESTERDAY, -2);
      const { r, emu } = await syncWith('tracking_log', { readyVariant: variant }, since);
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      assert.deepEqual(records(r, STREAM), trackingExpected(daysBetween(since, YESTERDAY)));
      assert.equal(emu.requests.filter((x) => x.route === 'pushwoosh.download').length, 3);
      assert.deepEqual(warnings(r), []);
    });
  }

  it('getMessageLog "nullWhenEmpty" on days without rows: no record, one warning', async () => {
    const { r } = await syncWith('message_log', {
      messageLogVariant: 'nullWhenEmpty',
      eventsPerDay: 0,
    });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.equal(records(r).length, 0);
    assert.deepEqual(warnings(r), [
      'Pushwoosh getMessageLog gave an answer this connector does not recognise; reading it as a page without rows. Please report it: {"result":null,"pagination_token":null}',
    ]);
  });

  for (const variant of PUSHWOOSH_MESSAGE_LOG_VARIANTS) {
    it(`getMessageLog "${variant}", 7 rows a page: all 30 days, in order`, async () => {
      const { r, emu } = await syncWith('message_log', {
        messageLogVariant: variant,
        messageLogPageCap: 7,
      });
      assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
      const days = daysBetween(addDays(YESTERDAY, -28), YESTERDAY);
      const want = messageLogExpected(days);
      assert.deepEqual(records(r, STREAM), want);
      const pages = emu.requests.filter((x) => x.route === 'pushwoosh.getMessageLog');
      assert.ok(pages.length >= want.length / 7, `${pages.length} pages`);
      assert.ok(pages.some((x) => JSON.parse(x.body).request.pagination_token));
      assert.deepEqual(warnings(r), []);
    });
  }
});
