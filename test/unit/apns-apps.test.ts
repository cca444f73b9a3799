/**
 * The pure logic of several Apple apps: both config forms normalised into one list of apps, the
 * problems a schema cannot say, the upgrade of a 0.1.0 state, and the bounds of an export held in
 * memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConnectorError } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import { parseConfig } from '../../src/source';
import { QualityReport } from '../../src/decode/quality';
import { groupByDay, MAX_RECORD_BYTES } from '../../src/providers/apns/day-groups';
import { broadcastChannel, deliveryMetrics } from '../../src/providers/apns/datasets';
import { upgradeApnsLegacyState } from '../../src/providers/apns/state';
import { problemsOf } from '../support/config';

const TOKEN = 'apns-unit-Qw8Er4Ty6Ui2Op0As';

describe('apns config: one app or a list of apps', () => {
  it('the single-app form is one app at path apns, with its own fields only', () => {
    const c = parseConfig({
      apns: {
        team_id: 'ABCDE12345',
        bundle_id: 'com.example.app',
        delivery_metrics_token: TOKEN,
        channel_ids: ['Y2gx'],
      },
    });
    assert.deepEqual(c.apns, {
      team_id: 'ABCDE12345',
      api_url: 'https://api.icloud.apple.com',
      apps: [
        {
          bundle_id: 'com.example.app',
          delivery_metrics_token: TOKEN,
          channel_ids: ['Y2gx'],
          path: 'apns',
        },
      ],
    });
  });

  it('apns.apps: each app at its own path; team_id and api_url stay at apns level', () => {
    const c = parseConfig({
      apns: {
        team_id: 'ABCDE12345',
        api_url: 'http://127.0.0.1:9/',
        channel_ids: [],
        apps: [
          { bundle_id: 'com.example.one', delivery_metrics_token: TOKEN, extra: 1 },
          { bundle_id: 'com.example.two', broadcast_app_token: TOKEN },
        ],
      },
    });
    assert.equal(c.apns?.api_url, 'http://127.0.0.1:9');
    assert.deepEqual(c.apns?.apps, [
      { bundle_id: 'com.example.one', delivery_metrics_token: TOKEN, path: 'apns.apps[0]' },
      { bundle_id: 'com.example.two', broadcast_app_token: TOKEN, path: 'apns.apps[1]' },
    ]);
  });

  it('both forms at once: one problem naming the single-app fields set, no value shown', () => {
    const msg = problemsOf({
      apns: {
        team_id: 'ABCDE12345',
        bundle_id: 'com.example.app',
        broadcast_app_token: TOKEN,
        apps: [{ bundle_id: 'com.example.two', delivery_metrics_token: TOKEN }],
      },
    });
    assert.match(
      msg,
      /apns has both apps \(apns\.apps\) and single-app fields \(apns\.bundle_id, apns\.broadcast_app_token\); use one form: every app in apns\.apps, or one app in apns\.bundle_id and its tokens/,
    );
    assert.equal(msg.includes(TOKEN), false);
  });

  it('names each other problem by its app', () => {
    const msg = problemsOf({
      apns: {
        team_id: 'ABCDE12345',
        apps: [
          { bundle_id: 'com.example.one', delivery_metrics_token: TOKEN },
          { bundle_id: 'com.example.two' },
          { bundle_id: 'com.example.one', broadcast_app_token: 12345678 },
          { delivery_metrics_token: TOKEN },
        ],
      },
    });
    assert.match(msg, /apns\.apps\[1\] needs at least one token: delivery_metrics_token/);
    assert.match(
      msg,
      /apns\.apps\[2\]\.bundle_id repeats apns\.apps\[0\]\.bundle_id \(got "com\.example\.one"\): list each app once/,
    );
    assert.match(msg, /apns\.apps\[2\]\.broadcast_app_token must be a string, got a number/);
    assert.match(msg, /apns\.apps\[3\]\.bundle_id is required/);
    assert.equal(msg.includes('12345678'), false);
  });

  it('neither form, or an empty list, is refused', () => {
    assert.match(
      problemsOf({ apns: { team_id: 'ABCDE12345', delivery_metrics_token: TOKEN } }),
      /apns\.bundle_id is required \(or list apps in apns\.apps\)/,
    );
    assert.match(
      problemsOf({ apns: { team_id: 'ABCDE12345', apps: [] } }),
      /apns\.apps must list at least 1 item\(s\)/,
    );
  });
});

describe('a state of 0.1.0', () => {
  const BUNDLE = 'com.example.app';

  it('{date} becomes the only app’s cursor', () => {
    assert.deepEqual(upgradeApnsLegacyState(deliveryMetrics, { date: '2026-11-20' }, BUNDLE), {
      state: { apps: { [BUNDLE]: { date: '2026-11-20' } } },
    });
  });

  it('{channels} becomes the only app’s cursors per channel', () => {
    const raw = { channels: { 'Y2gx+/==': { date: '2026-11-20' }, Y2gy: { date: '2026-11-21' } } };
    assert.deepEqual(upgradeApnsLegacyState(broadcastChannel, raw, BUNDLE), {
      state: {
        app_channels: {
          [`${BUNDLE}:Y2gx+/==`]: { date: '2026-11-20' },
          [`${BUNDLE}:Y2gy`]: { date: '2026-11-21' },
        },
      },
    });
  });

  it('with several apps it is set aside, and said so', () => {
    assert.deepEqual(upgradeApnsLegacyState(deliveryMetrics, { date: '2026-11-20' }, undefined), {
      state: {},
      orphaned: true,
    });
  });

  it('a state of this version, an empty one or garbage is passed on as it is', () => {
    const current = { apps: { [BUNDLE]: { date: '2026-11-20' } } };
    for (const raw of [current, {}, 'garbage', { apps: 1, date: '2026-11-20' }])
      assert.deepEqual(upgradeApnsLegacyState(deliveryMetrics, raw, BUNDLE), { state: raw });
  });

  it('a bad old cursor is a config error naming it', () => {
    assert.throws(
      () =>
        upgradeApnsLegacyState(broadcastChannel, { channels: { Y2gx: { date: 'soon' } } }, BUNDLE),
      /The saved state of stream apns_broadcast_channel has channel Y2gx with date "soon"/,
    );
  });
});

describe('an APNs export held in memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spdm-apns-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const group = (name: string, lines: string[], logger = new MemoryLogger()) => {
    const path = join(dir, name);
    writeFileSync(path, ['Push Type,Status,Date (UTC),Count', ...lines].join('\r\n'));
    return groupByDay({ path }, deliveryMetrics, {
      lead: { bundle_id: 'com.example.app' },
      window: { from: '2026-11-02', to: '2026-11-03' },
      source: 'test export',
      ctx: { logger, unknownColumn: () => {}, quality: new QualityReport('test', logger) },
    });
  };

  it('groups rows by day, sorted by push type and status; drops days outside the window', async () => {
    const logger = new MemoryLogger();
    const byDay = await group(
      'small.csv',
      [
        'voip,stored,2026-11-03,5',
        'alert,stored,2026-11-02,2',
        'alert,delivered,2026-11-02,1',
        'alert,delivered,2026-11-01,9',
        'alert,delivered,2026-11-09,9',
      ],
      logger,
    );
    assert.deepEqual(Object.fromEntries(byDay), {
      '2026-11-02': [
        '{"bundle_id":"com.example.app","date":"2026-11-02","push_type":"alert","status":"delivered","count":1}',
        '{"bundle_id":"com.example.app","date":"2026-11-02","push_type":"alert","status":"stored","count":2}',
      ],
      '2026-11-03': [
        '{"bundle_id":"com.example.app","date":"2026-11-03","push_type":"voip","status":"stored","count":5}',
      ],
    });
    // The day before the window is the extra day of a one-day window, not worth a warning.
    assert.deepEqual(
      logger.lines.map((l) => l.message),
      ['apns_delivery_metrics: 1 row(s) dated outside 2026-11-02..2026-11-03 were ignored.'],
    );
  });

  it('two rows of a day with one key fail, naming unknown columns and no value', async () => {
    const path = join(dir, 'env.csv');
    writeFileSync(
      path,
      [
        'Push Type,Status,Date (UTC),Count,Environment',
        'alert,delivered,2026-11-03,5,Production',
        'alert,stored,2026-11-03,1,Production',
        'alert,delivered,2026-11-03,2,Development',
      ].join('\r\n'),
    );
    const logger = new MemoryLogger();
    await assert.rejects(
      groupByDay({ path }, deliveryMetrics, {
        lead: { bundle_id: 'com.example.app' },
        window: { from: '2026-11-02', to: '2026-11-03' },
        source: 'test export',
        ctx: { logger, unknownColumn: () => {}, quality: new QualityReport('test', logger) },
      }),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'system_error' &&
        e.message.startsWith(
          'test export: data rows 1 and 3 are of the same day and have the same primary key (bundle_id, date, push_type, status).',
        ) &&
        e.message.includes('("Environment")') &&
        !/alert|delivered|Production/.test(e.message),
    );
    // The same rows on different days are no repeat.
    const ok = await group('two-days.csv', [
      'alert,delivered,2026-11-02,5',
      'alert,delivered,2026-11-03,2',
    ]);
    assert.equal([...ok.values()].flat().length, 2);
  });

  it('a row whose date cannot be read is kept, date null, with the last day of the window', async () => {
    const logger = new MemoryLogger();
    const byDay = await group(
      'bad-date.csv',
      ['alert,delivered,2026-11-02,5', 'alert,stored,someday,1', 'voip,stored,2026-11-03,3'],
      logger,
    );
    assert.deepEqual(byDay.get('2026-11-03'), [
      '{"bundle_id":"com.example.app","date":"2026-11-03","push_type":"voip","status":"stored","count":3}',
      '{"bundle_id":"com.example.app","date":null,"push_type":"alert","status":"stored","count":1},"meta":{"changes":[{"field":"date","change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"}]}',
    ]);
    assert.match(
      logger.lines[0].message,
      /test export, data row 2: column "Date \(UTC\)": expected a date/,
    );
  });

  it('two rows without a readable date and with the same other key fields fail too', async () => {
    // Both would be one record (date null) to a destination that deduplicates.
    await assert.rejects(
      group('two-undated.csv', [
        'alert,delivered,someday,5',
        'alert,stored,2026-11-03,1',
        'alert,delivered,,2',
      ]),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'system_error' &&
        e.message.startsWith(
          'test export: data rows 1 and 3 have no readable date (synced as null) and the same other key fields (bundle_id, date, push_type, status).',
        ),
    );
    // Undated rows of different keys are kept.
    const ok = await group('undated-apart.csv', ['alert,delivered,someday,5', 'voip,delivered,,2']);
    assert.equal(ok.get('2026-11-03')?.length, 2);
  });

  it(`records past ${MAX_RECORD_BYTES / 1024 ** 2} MiB fail, however few the rows`, async () => {
    const long = 'x'.repeat(1_000_000);
    const rows = Array.from({ length: 40 }, (_, i) => `${long}${i},delivered,2026-11-02,1`);
    await assert.rejects(
      group('long.csv', rows),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'system_error' &&
        e.message ===
          'test export: more than 32 MiB of records, far more than a 30-day export holds (a few thousand rows). Please report it.',
    );
  });
});
