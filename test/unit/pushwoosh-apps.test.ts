/**
 * The pure parts of Pushwoosh's several applications: the config's two forms, the 0.1.0 state
 * upgrade, the summary of dropped rows, and record keys that are never null.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { csvRows } from '../../src/decode/csv';
import { parseConfig } from '../../src/source';
import { normalizeMessageLogRow } from '../../src/providers/pushwoosh/answers';
import {
  DroppedRows,
  upgradePushwooshLegacyState,
} from '../../src/providers/pushwoosh/applications';
import { messageLogRecord, rowApplication } from '../../src/providers/pushwoosh/message-log';
import { PRIMARY_KEYS } from '../../src/providers/pushwoosh/tracking-stream';
import { MESSAGE_LOG_ONLY, trackingLogMapping } from '../../src/providers/pushwoosh/tracking-log';
import { collect, rejectsDecode, streamOf } from '../support/decode';

const TOKEN = 'pw-token-0123456789abcdef';
const pushwooshOf = (p: Record<string, unknown>) =>
  parseConfig({ pushwoosh: { api_token: TOKEN, ...p } }).pushwoosh!;

describe('pushwoosh config: application_code and application_codes', () => {
  it('either form, or both: their union, each code once, application_code first', () => {
    assert.deepEqual(pushwooshOf({ application_code: 'AAAAA-11111' }).application_codes, [
      'AAAAA-11111',
    ]);
    assert.deepEqual(
      pushwooshOf({ application_codes: ['BBBBB-22222', 'AAAAA-11111'] }).application_codes,
      ['BBBBB-22222', 'AAAAA-11111'],
    );
    const both = pushwooshOf({
      application_code: 'AAAAA-11111',
      application_codes: ['BBBBB-22222', 'AAAAA-11111', 'BBBBB-22222'],
    });
    assert.deepEqual(both.application_codes, ['AAAAA-11111', 'BBBBB-22222']);
    assert.equal(both.application_code, 'AAAAA-11111', 'kept: a 0.1.0 state belongs to it');
  });
  it('neither, or an empty list: one error naming both fields', () => {
    for (const p of [{}, { application_codes: [] }])
      assert.throws(
        () => pushwooshOf(p),
        /pushwoosh needs an application: set pushwoosh\.application_code or list pushwoosh\.application_codes/,
      );
  });
  it('a malformed code in the list is named by its index', () => {
    assert.throws(
      () => pushwooshOf({ application_codes: ['AAAAA-11111', 'abc'] }),
      /pushwoosh\.application_codes\[1\] must be XXXXX-XXXXX \(got "abc"\)/,
    );
    assert.throws(
      () => pushwooshOf({ application_codes: 'AAAAA-11111' }),
      /pushwoosh\.application_codes must be a list/,
    );
  });
});

describe('pushwoosh state from 0.1.0', () => {
  it("{date} becomes application_code's cursor", () => {
    assert.deepEqual(upgradePushwooshLegacyState({ date: '2026-10-01' }, 'AAAAA-11111'), {
      state: { applications: { 'AAAAA-11111': { date: '2026-10-01' } } },
    });
  });
  it('without application_code the cursor is nobody’s: dropped and reported', () => {
    assert.deepEqual(upgradePushwooshLegacyState({ date: '2026-10-01' }, undefined), {
      state: {},
      orphaned: '2026-10-01',
    });
  });
  it("today's layout, no state and other values are left for validation as they are", () => {
    const today = { applications: { 'AAAAA-11111': { date: '2026-10-01' } } };
    for (const raw of [today, {}, [], 'x', null, { applications: 1, date: '2026-10-01' }])
      assert.deepEqual(upgradePushwooshLegacyState(raw, 'AAAAA-11111'), { state: raw });
  });
});

describe('pushwoosh dropped rows', () => {
  it('one line, the biggest first; a row without a code is named so', () => {
    const d = new DroppedRows();
    for (const app of ['BBBBB-22222', 'CCCCC-33333', 'CCCCC-33333', '', undefined]) d.add(app);
    const logger = new MemoryLogger();
    d.log('s', logger);
    assert.deepEqual(logger.lines, [
      {
        level: 'INFO',
        message:
          's: dropped 5 row(s) of applications that are not configured (CCCCC-33333: 2, without an application code: 2, BBBBB-22222: 1); add a code to pushwoosh.application_codes to sync its rows.',
      },
    ]);
  });
  it('names ten applications at most; nothing dropped, nothing logged', () => {
    const d = new DroppedRows();
    for (let i = 0; i < 12; i++) d.add(`APP${String(i).padStart(2, '0')}-00000`);
    const logger = new MemoryLogger();
    d.log('s', logger);
    assert.match(logger.lines[0].message, /dropped 12 row\(s\).*, 2 more application\(s\)\);/);
    assert.equal(logger.lines[0].message.split(': 1').length - 1, 10);
    const quiet = new MemoryLogger();
    new DroppedRows().log('s', quiet);
    assert.deepEqual(quiet.lines, []);
  });
});

describe('pushwoosh keys are never null', () => {
  const base = { timestamp: '2026-10-10 00:18:43', action: 'sent' };
  const key = (r: Record<string, unknown>) => PRIMARY_KEYS.message_log.map((k) => r[k]);

  it("getMessageLog: the row's application, else the one asked for", () => {
    const row = normalizeMessageLogRow({ ...base, applicationCode: 'BBBBB-22222' });
    assert.equal(rowApplication(row, 'AAAAA-11111'), 'BBBBB-22222');
    assert.equal(rowApplication(normalizeMessageLogRow(base), 'AAAAA-11111'), 'AAAAA-11111');
  });
  it('getMessageLog: message_code, else id:<message_id>, else ""; hwid else ""', () => {
    const full = messageLogRecord(
      normalizeMessageLogRow({ ...base, message_code: 'A444-1', message_id: 7, hwid: 'h' }),
      'AAAAA-11111',
    ).record;
    assert.deepEqual(key(full), ['AAAAA-11111', 'A444-1', 'h', 'sent', '2026-10-10T00:18:43.000Z']);
    const idOnly = messageLogRecord(
      normalizeMessageLogRow({ ...base, message_id: '123' }),
      'AAAAA-11111',
    ).record;
    assert.equal(idOnly.message_code, 'id:123');
    assert.equal(idOnly.message_id, 123);
    const bare = messageLogRecord(normalizeMessageLogRow(base), 'AAAAA-11111').record;
    assert.deepEqual(key(bare), ['AAAAA-11111', '', '', 'sent', '2026-10-10T00:18:43.000Z']);
    assert.equal(bare.app_code, 'AAAAA-11111');
  });
  it('getMessageLog: a time that cannot be read is null and listed for meta.changes; no action is an error that quotes nothing', () => {
    for (const timestamp of ['yesterday', undefined]) {
      const { record, nulled, problems } = messageLogRecord(
        normalizeMessageLogRow({ ...base, timestamp, hwid: 'secret-hwid' }),
        'AAAAA-11111',
      );
      assert.equal(record.timestamp, null);
      assert.deepEqual(nulled, ['timestamp']);
      assert.equal(problems.length, 1);
      assert.ok(!problems[0].includes('yesterday'), problems[0]);
    }
    assert.deepEqual(messageLogRecord(normalizeMessageLogRow(base), 'AAAAA-11111').nulled, []);
    assert.throws(
      () =>
        messageLogRecord(
          normalizeMessageLogRow({ ...base, action: undefined, hwid: 'secret-hwid' }),
          'AAAAA-11111',
        ),
      (e: unknown) =>
        e instanceof Error &&
        /without an action/.test(e.message) &&
        !e.message.includes('secret-hwid'),
    );
  });
  it('tracking log: empty tracking_code and hwid are "", the application is the row\'s', () => {
    const mapping = trackingLogMapping();
    const cells: Record<string, string> = {
      appCode: 'CCCCC-33333',
      timestamp: '2026-10-10 00:00:00',
      tracking_code: '',
      target_id: '',
      hwid: '',
      status: 'created',
      description: '',
      payload: '',
    };
    const row = mapping.columns.map((c) => cells[c.header]);
    const rec = JSON.parse(mapping.serializer({}, MESSAGE_LOG_ONLY)(row)) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      PRIMARY_KEYS.tracking_log.map((k) => rec[k]),
      ['CCCCC-33333', '', '', 'created', '2026-10-10T00:00:00.000Z'],
    );
    assert.equal(rec.app_code, 'CCCCC-33333');
    assert.equal(rec.target_id, null);
    for (const header of ['appCode', 'tracking_code', 'hwid'])
      assert.ok(mapping.columns.find((c) => c.header === header)?.required, header);
  });

  it('a tracking log without appCode (its older form) cannot say whose rows it holds: an error', async () => {
    const { columns } = trackingLogMapping();
    const opts = { columns, delimiter: ';', headerPrefix: '//', source: 'old log' };
    const old = '//timestamp;tracking_code;target_id;hwid;status;description\n';
    await rejectsDecode(
      collect(csvRows(streamOf(`${old}2011-01-01T15:03:01.012345;T-1;U;H;created;\n`), opts)),
      /old log: missing required column "appCode"/,
    );
    const now = `${old.trimEnd()};appCode;payload\n2026-10-10 00:00:00;T-1;U;H;sent;;AAAAA-11111;\n`;
    assert.equal((await collect(csvRows(streamOf(now), opts))).flat().length, 1);
  });
});
