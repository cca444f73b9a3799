import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import Ajv from 'ajv';
import { zipSync } from 'fflate';
import type { RunResult } from '../../emulator/harness';
import type { JsonObject } from '../../src/airbyte/protocol';
import { DecodeError } from '../../src/decode';
import { fileRows, type FileRowsOptions } from '../../src/decode/chain';
import { MemoryLogger } from '../../src/airbyte/logger';
import { LOGGED_PROBLEMS, MIN_FAILED_ROWS, QualityReport } from '../../src/decode/quality';
import {
  as,
  field,
  type JsonConverter,
  parseRecordText,
  type Raw,
  RecordMapping,
} from '../../src/decode/records';
import { DATASETS } from '../../src/providers/apns/datasets';
import { MAPPING } from '../../src/providers/onesignal/message-events';
import { parsePayload, trackingLogMapping } from '../../src/providers/pushwoosh/tracking-log';
import { readJsonResource } from '../../src/resources';
import { messageRecord } from '../../src/providers/onesignal/messages-stream';
import { schemaProblems } from '../support/e2e';

interface Schema {
  properties: Record<string, unknown>;
  required?: string[];
}
const schemaOf = (stream: string) => readJsonResource<Schema>('schemas', `${stream}.json`);

/** Each stream: its mapping, the constants it writes around the mapped fields, a sample row. */
interface StreamCase {
  stream: string;
  mapping: RecordMapping;
  lead: JsonObject;
  tail?: JsonObject;
  /** A typical CSV row, by header. */
  sample: Record<string, string>;
}

const APNS_LEAD = { team_id: 'ABCDE12345', bundle_id: 'com.example.app' };
const APNS_SAMPLES: Record<string, Record<string, string>> = {
  apns_delivery_metrics: {
    'Date (UTC)': '2026-11-03',
    'Push Type': 'alert',
    Status: 'delivered',
    Count: '12',
  },
  apns_broadcast_app: {
    'Date (UTC)': '2026-11-03',
    'Broadcasts Published': '3',
    'Broadcasts Delivered': '-1',
    'Total Subscriptions': '100',
    'Unique Subscribers': '-1',
  },
  apns_broadcast_channel: {
    'Date (UTC)': '2026-11-03',
    'Broadcasts Published': '3',
    'Broadcasts Delivered': '2',
    'Total Subscriptions': '-1',
  },
};

const CASES: StreamCase[] = [
  ...DATASETS.map((d) => ({
    stream: d.stream,
    mapping: d.mapping,
    lead: d.perChannel ? { ...APNS_LEAD, channel_id: 'ch-1' } : APNS_LEAD,
    sample: APNS_SAMPLES[d.stream],
  })),
  {
    stream: 'onesignal_message_events',
    mapping: MAPPING,
    lead: { app_id: 'app-1', message_id: 'msg-1', message_sent_at: '2026-11-03T10:00:00.000Z' },
    sample: {
      subscription_id: 'sub-1',
      external_user_id: '-',
      onesignal_id: 'os-1',
      device_type: 'iOS',
      sent: '2026-11-03 10:00:00',
      delivered: '1762164000',
      clicked: '-',
      failed: '',
      unsubscribed: '',
      failure_message: '-',
    },
  },
  {
    stream: 'pushwoosh_tracking',
    mapping: trackingLogMapping(),
    // The application comes from the row (appCode), not from the configuration.
    lead: {},
    tail: {
      message_id: null,
      message_code: null,
      campaign_code: null,
      user_id: null,
      platform: null,
    },
    sample: {
      timestamp: '2026-11-03 10:00:00',
      tracking_code: 'tc-1',
      target_id: '',
      hwid: 'hw-1',
      status: 'sent',
      description: 'Success',
      appCode: 'AAAAA-BBBBB',
      payload: '{"aps":{"alert":"hi"}}',
    },
  },
];

/** The sample as a row in the mapping's column order. */
const rowOf = (c: StreamCase): Raw[] => c.mapping.columns.map((col) => c.sample[col.header]);

describe('stream mappings match their schemas', () => {
  it('covers every schema in resources/schemas', () => {
    // onesignal_messages is built from a JSON listing, not a CSV: its own test is below.
    const streams = [...CASES.map((c) => c.stream), 'onesignal_messages'].sort();
    assert.deepEqual(
      streams,
      readdirSync(join(__dirname, '..', '..', '..', 'resources', 'schemas'))
        .map((f) => f.replace(/\.json$/, ''))
        .sort(),
    );
  });
  for (const c of CASES) {
    describe(c.stream, () => {
      const schema = schemaOf(c.stream);
      const constants = [...Object.keys(c.lead), ...Object.keys(c.tail ?? {})];
      it('record fields (constants + mapping fields) are the schema’s properties', () => {
        const fields = [...constants, ...c.mapping.fields];
        assert.equal(new Set(fields).size, fields.length, `a field twice in ${fields.join(',')}`);
        assert.deepEqual([...fields].sort(), Object.keys(schema.properties).sort());
      });
      it('every field the schema requires is a constant or a required column', () => {
        const required = new Set(
          c.mapping.columns.filter((col) => col.required).map((col) => col.field),
        );
        for (const f of schema.required ?? [])
          assert.ok(constants.includes(f) || required.has(f), `${f} may be missing from a record`);
      });
      it('each column is read from its own header', () => {
        const headers = c.mapping.columns.map((col) => col.header);
        assert.equal(new Set(headers).size, headers.length);
        assert.deepEqual(
          [...headers].sort(),
          Object.keys(c.sample).sort(),
          'the sample fills each',
        );
      });
      it('a serialized sample row is valid JSON, with exactly the schema’s fields, and valid', () => {
        const json = c.mapping.serializer(c.lead, c.tail)(rowOf(c));
        const data = JSON.parse(json) as JsonObject;
        assert.deepEqual(Object.keys(data).sort(), Object.keys(schema.properties).sort());
        const record = { type: 'RECORD', record: { stream: c.stream, data } };
        const run = { messages: [record] } as unknown as RunResult;
        assert.deepEqual(
          schemaProblems({ streams: [{ name: c.stream, json_schema: schema }] }, run),
          [],
        );
      });
    });
  }
  it('the samples come out as the vendors mean them', () => {
    const out = (stream: string) => {
      const c = CASES.find((x) => x.stream === stream)!;
      return JSON.parse(c.mapping.serializer(c.lead, c.tail)(rowOf(c))) as JsonObject;
    };
    assert.deepEqual(out('apns_broadcast_app'), {
      ...APNS_LEAD,
      date: '2026-11-03',
      broadcasts_published: 3,
      broadcasts_delivered: null,
      total_subscriptions: 100,
      unique_subscribers: null,
    });
    const os = out('onesignal_message_events');
    assert.equal(os.external_user_id, null, "OneSignal's '-' is null");
    assert.equal(os.sent_at, '2026-11-03T10:00:00.000Z');
    assert.equal(os.delivered_at, '2025-11-03T10:00:00.000Z', 'unix seconds');
    assert.equal(os.failed_at, null);
    const pw = out('pushwoosh_tracking');
    assert.deepEqual(pw.payload, { aps: { alert: 'hi' } });
    assert.equal(pw.payload_raw, null);
    assert.equal(pw.target_id, null);
    assert.equal(pw.application_code, 'AAAAA-BBBBB');
    assert.equal(pw.app_code, 'AAAAA-BBBBB');
  });
});

describe('RecordMapping', () => {
  const mapping = new RecordMapping([
    field('name', 'Name', as.text, { required: true }),
    field('n', 'N', as.count),
    field('when', 'When', as.timestamp),
  ]);

  it('declares its columns in order, and where each field sits', () => {
    assert.deepEqual(mapping.columns, [
      { field: 'name', header: 'Name', required: true },
      { field: 'n', header: 'N', required: undefined },
      { field: 'when', header: 'When', required: undefined },
    ]);
    assert.deepEqual(mapping.fields, ['name', 'n', 'when']);
    assert.equal(mapping.index('when'), 2);
    assert.throws(() => mapping.index('nope'), /no column fills the field nope/);
  });
  it('puts lead constants first and tail constants last', () => {
    const json = mapping.serializer(
      { team: 'T1', k: 2 },
      { extra: null, flag: true },
    )(['a', '7', '2026-11-03T10:00:00+02:00']);
    const data = JSON.parse(json) as JsonObject;
    assert.deepEqual(Object.keys(data), ['team', 'k', 'name', 'n', 'when', 'extra', 'flag']);
    assert.deepEqual(data, {
      team: 'T1',
      k: 2,
      name: 'a',
      n: 7,
      when: '2026-11-03T08:00:00.000Z',
      extra: null,
      flag: true,
    });
  });
  it('without constants, or with only one side, is still valid JSON', () => {
    const row = ['a', '', ''];
    assert.equal(mapping.serializer()(row), '{"name":"a","n":null,"when":null}');
    assert.equal(mapping.serializer({ x: 1 })(row), '{"x":1,"name":"a","n":null,"when":null}');
    assert.equal(
      mapping.serializer({}, { y: 'z' })(row),
      '{"name":"a","n":null,"when":null,"y":"z"}',
    );
  });
  it('escapes quotes, backslashes and control characters in values and constants', () => {
    const nasty = 'he said "hi" \\ C:\\dir\n\tline\r\u0000\u0001\u001f é 😀 \u2028';
    const json = mapping.serializer({ lead: nasty }, { tail: `x"${nasty}` })([nasty, '1', '']);
    // eslint-disable-next-line no-control-regex -- raw control characters must not survive
    assert.equal(/[\u0000-\u001f]/.test(json), false, 'no raw control character');
    assert.deepEqual(JSON.parse(json), {
      lead: nasty,
      name: nasty,
      n: 1,
      when: null,
      tail: `x"${nasty}`,
    });
  });
  it('a column the file lacks is null', () => {
    const data = JSON.parse(mapping.serializer()([undefined, undefined, undefined])) as JsonObject;
    assert.deepEqual(data, { name: null, n: null, when: null });
  });
  it('a value that does not convert is null, marked in meta.changes, and logged without the value', () => {
    const logger = new MemoryLogger();
    const report = new QualityReport('s', logger);
    const toJson = mapping.serializer({ k: 1 }, {}, report.file('file F'));
    assert.equal(toJson(['a', '1', '']), '{"k":1,"name":"a","n":1,"when":null}');
    const text = toJson(['secret-name', 'twelve', 'noon']);
    assert.equal(
      text,
      '{"k":1,"name":"secret-name","n":null,"when":null},"meta":{"changes":[' +
        '{"field":"n","change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"},' +
        '{"field":"when","change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"}]}',
    );
    // The text is the RECORD's members from data on: valid JSON once wrapped, as the writer does.
    assert.deepEqual(parseRecordText(text), {
      data: { k: 1, name: 'secret-name', n: null, when: null },
      meta: {
        changes: [
          { field: 'n', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' },
          { field: 'when', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' },
        ],
      },
    });
    const lines = logger.lines.map((l) => l.message);
    assert.deepEqual(lines, [
      's: file F, data row 2: column "N": expected a whole number; column "When": expected a timestamp; synced as null (field n, when), marked in the record\'s meta.changes.',
    ]);
    report.summary();
    assert.match(
      logger.lines.at(-1)!.message,
      /2 value\(s\) could not be converted .*by field: n 1, when 1/,
    );
    assert.ok(!logger.lines.some((l) => /twelve|noon/.test(l.message)), 'values are never logged');
  });
  it('logs the first few problems of a sync, then only counts them', () => {
    const logger = new MemoryLogger();
    const report = new QualityReport('s', logger);
    for (let f = 0; f < 3; f++) {
      const toJson = mapping.serializer({}, {}, report.file(`file ${f}`));
      for (let i = 0; i < 40; i++) toJson(['a', i % 10 === 0 ? 'x' : '1', '']);
    }
    assert.equal(logger.lines.length, LOGGED_PROBLEMS);
    report.summary();
    assert.match(
      logger.lines.at(-1)!.message,
      /^s: 12 value\(s\) .* The first 5 are logged above\.$/,
    );
  });
  it(`a file fails once ${MIN_FAILED_ROWS} rows failed and they are most of the rows so far`, () => {
    const quality = new QualityReport('s').file('file F');
    const toJson = mapping.serializer({}, {}, quality);
    // Half of the rows bad is not most: 30 bad of 60.
    for (let i = 0; i < 60; i++) toJson(['a', i % 2 ? 'x' : '1', '']);
    // Then every row bad: the 31st bad row of 61 is most of them.
    assert.throws(
      () => toJson(['a', 'x', '']),
      (e: unknown) =>
        e instanceof DecodeError &&
        e.failureType === 'system_error' &&
        e.message.startsWith(
          'file F: 31 of the first 61 data rows have values that cannot be converted (the first: column "N": expected a whole number)',
        ),
    );
    // Fewer than the minimum never fails, however many of the rows.
    const few = mapping.serializer({}, {}, new QualityReport('s').file('small'));
    for (let i = 0; i < MIN_FAILED_ROWS - 1; i++) few(['a', 'x', '']);
  });
  it('a row skipped by the caller counts in the row numbers', () => {
    const logger = new MemoryLogger();
    const quality = new QualityReport('s', logger).file('F');
    const toJson = mapping.serializer({}, {}, quality);
    quality.skip();
    toJson(['a', 'x', '']);
    assert.match(logger.lines[0].message, /F, data row 2:/);
    // Skipped rows were not converted: they do not dilute the share of failed rows.
    for (let i = 0; i < 100; i++) quality.skip();
    for (let i = 0; i < MIN_FAILED_ROWS - 2; i++) toJson(['a', 'x', '']);
    assert.throws(() => toJson(['a', 'x', '']), /F: 10 of the first 10 data rows have values/);
  });
  it('an error that is not a conversion still fails the row', () => {
    const boom: JsonConverter = () => {
      throw new Error('bug');
    };
    const m = new RecordMapping([field('a', 'A', boom)]);
    assert.throws(() => m.serializer()(['v']), /bug/);
  });
  it('field names are JSON-escaped too', () => {
    const odd = new RecordMapping([field('we"ird\\name', 'H', as.text)]);
    assert.deepEqual(JSON.parse(odd.serializer()(['v'])), { 'we"ird\\name': 'v' });
  });
});

describe('Pushwoosh payload column', () => {
  it('parses JSON payloads, keeps bad ones as text and counts them', () => {
    let bad = 0;
    const m = trackingLogMapping(() => bad++);
    const at = m.index('payload');
    const payloadOf = (raw: string) => {
      const row: Raw[] = m.columns.map(() => 'x');
      row[m.index('timestamp')] = '2026-11-03 10:00:00';
      row[at] = raw;
      const d = JSON.parse(m.serializer()(row)) as JsonObject;
      return [d.payload, d.payload_raw];
    };
    assert.deepEqual(payloadOf('{"a":[1,"b"]}'), [{ a: [1, 'b'] }, null]);
    assert.deepEqual(payloadOf(''), [null, null]);
    assert.equal(bad, 0);
    assert.deepEqual(payloadOf('{not json "q"'), [null, '{not json "q"']);
    assert.equal(bad, 1);
    assert.deepEqual(parsePayload(undefined), { payload: null, payload_raw: null, bad: false });
  });
  it('a row whose timestamp is empty or unreadable keeps it null, marked in meta.changes', () => {
    const m = trackingLogMapping();
    for (const ts of ['', '20/04/2021']) {
      const row: Raw[] = m.columns.map(() => 'x');
      row[m.index('timestamp')] = ts;
      const { data, meta } = parseRecordText(m.serializer()(row));
      assert.equal(data.timestamp, null);
      assert.deepEqual(meta, {
        changes: [{ field: 'timestamp', change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' }],
      });
    }
  });
});

describe('converters', () => {
  /**
   * Per converter: raw values and the JSON text they become, then raw values it rejects (with a
   * message that never quotes the value: a cell may be personal data).
   */
  const cases: {
    name: string;
    convert: JsonConverter;
    good: [Raw, string, string?][];
    bad: [string, RegExp][];
  }[] = [
    {
      name: 'as.text keeps text as written; only a missing column is null',
      convert: as.text,
      good: [
        ['abc', '"abc"'],
        ['', '""'],
        [' - ', '" - "'],
        ['a"b\\c\n', '"a\\"b\\\\c\\n"'],
        [undefined, 'null'],
      ],
      bad: [],
    },
    {
      name: 'as.textOrNull: empty is null',
      convert: as.textOrNull,
      good: [
        ['abc', '"abc"'],
        ['', 'null'],
        [undefined, 'null'],
        ['-', '"-"'],
        ['"', '"\\""'],
      ],
      bad: [],
    },
    {
      name: "as.textOrNullExcept('-'): empty and the placeholder are null",
      convert: as.textOrNullExcept('-'),
      good: [
        ['-', 'null'],
        ['', 'null'],
        [undefined, 'null'],
        ['--', '"--"'],
        [' -', '" -"'],
        ['a\tb', '"a\\tb"'],
      ],
      bad: [],
    },
    {
      name: 'as.timestamp gives ISO 8601 UTC, null for empty, and rejects garbage',
      convert: as.timestamp,
      good: [
        ['2026-11-03 13:01:01', '"2026-11-03T13:01:01.000Z"'],
        ['2026-11-03T13:01:01.5+01:00', '"2026-11-03T12:01:01.500Z"'],
        ['1762174861', '"2025-11-03T13:01:01.000Z"', 'unix seconds'],
        ['1762174861123', '"2025-11-03T13:01:01.123Z"', 'unix milliseconds'],
        ['', 'null'],
        ['-', 'null'],
        [undefined, 'null'],
      ],
      bad: [
        ['yesterday', /^column "Col": expected a timestamp$/],
        ['2026-11-03', /expected a timestamp/],
        ['2026-02-30 10:00:00', /expected a timestamp/],
        ['2026-11-03 25:00:00', /expected a timestamp/],
      ],
    },
    {
      name: 'as.count gives whole numbers >= 0, null for empty, and rejects the rest',
      convert: as.count,
      good: [
        ['12', '12'],
        [' 0 ', '0'],
        ['12.0', '12'],
        ['', 'null'],
        [undefined, 'null'],
      ],
      bad: [
        ['-1', /^column "Col": expected a count \(a whole number >= 0\)$/],
        ['1,000', /expected a whole number$/],
        ['12.5', /expected a whole number/],
        ['abc', /expected a whole number/],
        ['99999999999999999', /below 2\^53/],
      ],
    },
    {
      name: 'as.countOrMinusOne: -1 is null, other negatives are errors',
      convert: as.countOrMinusOne,
      good: [
        ['-1', 'null'],
        ['5', '5'],
        ['', 'null'],
        [undefined, 'null'],
      ],
      bad: [
        ['-2', /expected a count/],
        ['-1.5', /expected a whole number/],
      ],
    },
    {
      name: 'as.day gives YYYY-MM-DD and rejects what is not a real day',
      convert: as.day,
      good: [
        ['2026-11-03', '"2026-11-03"'],
        ['2026/11/03', '"2026-11-03"'],
        ['2026-11-03T23:30:00-05:00', '"2026-11-03"', 'its own written day'],
        [undefined, 'null'],
      ],
      bad: [
        ['2026-02-30', /^column "Col": expected a date \(YYYY-MM-DD\)$/],
        ['03.11.2026', /expected a date/],
        ['', /expected a date/],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const [raw, json, why] of c.good)
        assert.equal(c.convert(raw, 'Col'), json, why ?? JSON.stringify(raw));
      for (const [raw, expected] of c.bad) {
        assert.throws(
          () => c.convert(raw, 'Col'),
          (e: unknown) =>
            e instanceof DecodeError &&
            expected.test(e.message) &&
            (raw === '' || !e.message.includes(raw)),
          `${JSON.stringify(raw)} should be rejected`,
        );
      }
    });
  }
});

describe('fileRows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spdm-mapping-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const CSV = 'b,extra,a\n2,x,1\n"4,5",y,3\n';
  const EXPECTED = [
    ['1', '2'],
    ['3', '4,5'],
  ];
  let n = 0;
  const write = (data: Buffer | string) => {
    const path = join(dir, `f${++n}`);
    writeFileSync(path, data);
    return path;
  };
  async function rows(
    file: { path: string; contentEncoding?: string },
    opts: Partial<FileRowsOptions> = {},
  ) {
    const unknown: string[] = [];
    const out: Raw[][] = [];
    for await (const batch of fileRows(file, {
      columns: [
        { field: 'a', header: 'a', required: true },
        { field: 'b', header: 'b' },
      ],
      source: 'test file',
      maxBytes: 1024 * 1024,
      onUnknownColumn: (h) => unknown.push(h),
      ...opts,
    }))
      out.push(...batch);
    return { out, unknown };
  }

  it('reads a plain file: columns by header, in mapping order; unknown headers reported', async () => {
    const { out, unknown } = await rows({ path: write(CSV) });
    assert.deepEqual(out, EXPECTED);
    assert.deepEqual(unknown, ['extra']);
  });
  it('reads a gzip file, sniffed from its bytes', async () => {
    assert.deepEqual((await rows({ path: write(gzipSync(CSV)) })).out, EXPECTED);
  });
  it('reads a zip file, sniffed from its bytes', async () => {
    const zip = Buffer.from(zipSync({ 'export.csv': Buffer.from(CSV) }));
    assert.deepEqual((await rows({ path: write(zip) })).out, EXPECTED);
  });
  it('decompresses a body sent with Content-Encoding gzip, by the header', async () => {
    const path = write(gzipSync(CSV));
    assert.deepEqual((await rows({ path, contentEncoding: 'gzip' })).out, EXPECTED);
    // The header is believed over the bytes: a plain file that claims gzip is an error.
    await assert.rejects(
      rows({ path: write(CSV), contentEncoding: 'gzip' }),
      (e: unknown) =>
        e instanceof DecodeError && /test file: the file is not valid gzip data/.test(e.message),
    );
  });
  it('takes another delimiter, and gives undefined for a column the file lacks', async () => {
    const { out } = await rows({ path: write('a;c\n1;2\n') }, { delimiter: ';' });
    assert.deepEqual(out, [['1', undefined]]);
  });
  it('bounds the decompressed bytes', async () => {
    const big = `a,b\n${'1,2\n'.repeat(10_000)}`;
    await assert.rejects(rows({ path: write(gzipSync(big)) }, { maxBytes: 1000 }), DecodeError);
  });
  it('a header-only file is no rows; a file with no header row, plain or gzip, is a transient_error', async () => {
    assert.deepEqual((await rows({ path: write('b,a\n') })).out, []);
    for (const empty of [write(''), write(gzipSync('')), write('\n\r\n')]) {
      await assert.rejects(
        rows({ path: empty }),
        (e: unknown) =>
          e instanceof DecodeError &&
          e.failureType === 'transient_error' &&
          /^test file: the file has no header row/.test(e.message),
      );
    }
  });
});

describe('onesignal_messages records', () => {
  const message = {
    id: 'm-1',
    send_after: 1_763_000_000,
    queued_at: 1_762_999_990,
    completed_at: null,
    successful: 10,
    failed: 1,
    errored: 0,
    converted: 2,
    received: 9,
    remaining: 5,
    headings: { en: 'Hi', de: 'Hallo' },
    contents: { en: 'Body' },
    included_segments: ['All'],
    excluded_segments: [],
    filters: [{ field: 'tag', key: 'a', relation: '=', value: 'b' }],
    template_id: null,
    isIos: true,
    isAndroid: false,
    platform_delivery_stats: { ios: { successful: 10 } },
    canceled: false,
    unknown_extra: 'ignored',
  };
  it('has exactly the fields of its schema, valid against it', () => {
    const record = messageRecord('app-1', message);
    const schema = schemaOf('onesignal_messages');
    assert.deepEqual(Object.keys(record).sort(), Object.keys(schema.properties).sort());
    const ajv = new Ajv({ strict: false });
    ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T/);
    assert.ok(ajv.validate(schema, record), ajv.errorsText());
  });
  it('names every platform flag its schema declares, and no other', () => {
    const flags = ['isIos', 'isAndroid', 'isHuawei', 'isAdm', 'isWP_WNS', 'isChrome']
      .concat(['isChromeWeb', 'isSafari', 'isFirefox', 'isEdge'])
      .map((f) => [f, true]);
    const all = messageRecord('app-1', { ...message, ...Object.fromEntries(flags) });
    const declared = schemaOf('onesignal_messages').properties.platforms as unknown as Schema;
    assert.deepEqual(
      Object.keys(all.platforms as JsonObject).sort(),
      Object.keys(declared.properties).sort(),
    );
  });
  it('keeps the vendor values: times as ISO, a missing time null, platform flags by name', () => {
    const r = messageRecord('app-1', message);
    assert.equal(r.message_sent_at, '2025-11-13T02:13:20.000Z');
    assert.equal(r.completed_at, null);
    assert.deepEqual(r.platforms, { ios: true, android: false });
    assert.deepEqual(r.headings, { en: 'Hi', de: 'Hallo' });
    assert.equal(r.remaining, 5);
    assert.equal(messageRecord('a', { id: 'x', send_after: 1 }).successful, null);
  });
});
