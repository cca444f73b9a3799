import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { transientError } from '../../src/airbyte/errors';
import {
  csvRecords,
  CsvColumn,
  CsvOptions,
  DecodeError,
  decompress,
  DecompressOptions,
  normalizeHeader,
  parseCount,
  parseDay,
  parseTimestamp,
  sniffCompression,
} from '../../src/decode';
import { makeZip } from '../../emulator/zip';
import {
  collect,
  countingStream,
  readAll,
  rejectsDecode,
  streamOf,
  ticks,
} from '../support/decode';

const SRC = 'test export 2026-11-01..2026-11-20';

function opts(
  compression: DecompressOptions['compression'],
  extra: Partial<DecompressOptions> = {},
) {
  return { compression, maxBytes: 64 * 1024 * 1024, source: SRC, ...extra };
}

const CSV_TEXT = 'date,app_id,sent\n2026-11-03,app-1,10\n2026-11-04,app-2,20\n';

// ---------------------------------------------------------------------------------------------

describe('sniffCompression', () => {
  test('recognises gzip, zip and plain bytes', () => {
    assert.equal(sniffCompression(zlib.gzipSync('x')), 'gzip');
    assert.equal(sniffCompression(makeZip({ 'a.csv': 'x' })), 'zip');
    assert.equal(sniffCompression(makeZip({})), 'zip'); // an empty archive is still a zip
    assert.equal(sniffCompression(Buffer.from('date,app\n')), 'none');
    assert.equal(sniffCompression(Buffer.from([0x1f])), 'none');
    assert.equal(sniffCompression(Buffer.from('PK')), 'none');
    assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
  });
});

describe('decompress: none and gzip', () => {
  test('none passes bytes through unchanged', async () => {
    const data = randomBytes(10_000);
    assert.deepEqual(await readAll(decompress(streamOf(data, [7, 300]), opts('none'))), data);
  });

  test('none still enforces maxBytes', async () => {
    const out = decompress(streamOf(Buffer.alloc(5000), [1000]), opts('none', { maxBytes: 4096 }));
    await rejectsDecode(readAll(out), /limit of 4096 bytes/, /maxBytes/, new RegExp(SRC));
  });

  test('gzip in tiny chunks, and multi-member gzip', async () => {
    const text = 'Zürich ✓ 😀\n'.repeat(500);
    const gz = zlib.gzipSync(text);
    assert.equal((await readAll(decompress(streamOf(gz), opts('gzip')))).toString(), text);
    const two = Buffer.concat([zlib.gzipSync('first\n'), zlib.gzipSync('second\n')]);
    const out = await readAll(decompress(streamOf(two, [3]), opts('gzip')));
    assert.equal(out.toString(), 'first\nsecond\n');
  });

  test('a truncated gzip fails, wherever it is cut', async () => {
    const gz = zlib.gzipSync(randomBytes(50_000));
    for (const cut of [5, 20, gz.length >> 1, gz.length - 4, gz.length - 1]) {
      const out = decompress(streamOf(gz.subarray(0, cut), [4096]), opts('gzip'));
      await rejectsDecode(readAll(out), /truncated/, new RegExp(SRC));
    }
  });

  test('an empty body declared as gzip is a truncated gzip', async () => {
    await rejectsDecode(readAll(decompress(Readable.from([]), opts('gzip'))), /truncated/);
  });

  test('data that is not gzip fails clearly', async () => {
    const out = decompress(streamOf('date,app\n1,2\n'), opts('gzip'));
    await rejectsDecode(readAll(out), /not valid gzip/);
  });

  test('a gzip bomb stops at maxBytes without inflating everything', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(32 * 1024 * 1024), { level: 9 }); // ~32 KiB
    let seen = 0;
    const out = decompress(streamOf(bomb, [1024]), opts('gzip', { maxBytes: 1024 * 1024 }));
    out.on('data', (chunk: Buffer) => (seen += chunk.length));
    await rejectsDecode(
      new Promise((resolve, reject) => out.on('end', resolve).on('error', reject)),
      /larger than the limit of 1048576 bytes \(1 MiB\)/,
      /maxBytes/,
      new RegExp(SRC),
    );
    assert.ok(seen <= 1024 * 1024, `passed ${seen} bytes`);
  });

  test('an error of the input comes out unchanged', async () => {
    const failing = new Readable({
      read() {
        this.destroy(transientError('connection reset while downloading'));
      },
    });
    await assert.rejects(readAll(decompress(failing, opts('gzip'))), /connection reset/);
  });

  test('destroying the output destroys the input', async () => {
    const { stream } = countingStream(zlib.gzipSync(randomBytes(200_000)), 1024);
    const out = decompress(stream, opts('gzip'));
    out.once('data', () => out.destroy());
    await new Promise((resolve) => out.on('close', resolve));
    await ticks(5);
    assert.ok(stream.destroyed);
  });
});

describe('decompress: backpressure', () => {
  const data = randomBytes(2 * 1024 * 1024); // incompressible: compressed ~= plain
  const CHUNK = 8 * 1024;
  const TOTAL = data.length / CHUNK;

  for (const [compression, packed] of [
    ['none', data],
    ['gzip', zlib.gzipSync(data)],
  ] as const) {
    test(`a slow consumer holds back the input (${compression})`, async () => {
      const { stream, pulled } = countingStream(packed, CHUNK);
      const out = decompress(stream, opts(compression));
      // Read a single chunk, then stop reading for a while.
      await new Promise((resolve) => out.once('readable', resolve));
      const first = out.read() as Buffer | null;
      assert.ok(first !== null);
      await ticks(30);
      const ahead = pulled();
      assert.ok(ahead < TOTAL / 4, `read ${ahead} of ${TOTAL} input chunks ahead of the consumer`);
      assert.equal(stream.isPaused(), true);
      // Reading on gets everything.
      const rest = await readAll(out);
      assert.ok(Buffer.concat([first, rest]).equals(data));
      assert.equal(pulled(), Math.ceil(packed.length / CHUNK));
    });
  }
});

// ---------------------------------------------------------------------------------------------

const COLUMNS: CsvColumn[] = [
  { field: 'date', header: 'Date (UTC)', required: true },
  { field: 'appId', header: 'app_id', required: true },
  { field: 'sent', header: 'Sent' },
  { field: 'userId', header: 'external_user_id' },
];

function csvOpts(extra: Partial<CsvOptions> = {}): CsvOptions {
  return { columns: COLUMNS, source: SRC, ...extra };
}

function parseCsv(text: string | Buffer, extra: Partial<CsvOptions> = {}, sizes?: number[]) {
  return collect(csvRecords(streamOf(text, sizes), csvOpts(extra)));
}

describe('csvRecords', () => {
  test('BOM, CRLF, quoted delimiter/quotes/newlines, multi-byte chars split across chunks', async () => {
    const text =
      '\uFEFFDate (UTC),app_id,Sent,external_user_id\r\n' +
      '2026-11-03,"app, one",10,"say ""hi"""\r\n' +
      '2026-11-04,app-2,,"line1\r\nline2\nZürich ✓ 😀"\r\n' +
      '2026-11-05,app-3,7,\r\n';
    const expected = [
      { date: '2026-11-03', appId: 'app, one', sent: '10', userId: 'say "hi"' },
      { date: '2026-11-04', appId: 'app-2', sent: '', userId: 'line1\r\nline2\nZürich ✓ 😀' },
      { date: '2026-11-05', appId: 'app-3', sent: '7', userId: '' },
    ];
    for (const sizes of [[1], [2], [3, 1], [5, 8, 13], [1 << 20]]) {
      assert.deepEqual(await parseCsv(text, {}, sizes), expected, `chunk sizes ${sizes}`);
    }
  });

  test('LF endings, no final newline, blank lines skipped', async () => {
    const rows = await parseCsv('date (utc),APP ID\n\n2026-11-03,a\n\n2026-11-04,b');
    assert.deepEqual(rows, [
      { date: '2026-11-03', appId: 'a' },
      { date: '2026-11-04', appId: 'b' },
    ]);
  });

  test('Pushwoosh: `//` header prefix, `;` delimiter, quoted JSON payload', async () => {
    const text =
      '//timestamp;tracking_code;payload\n' +
      '2024-10-21 18:49:23;abc;"{""aps"":{""alert"":""a;b""}}"\n' +
      '2024-10-21 18:50:00;def;"{""aps"":{""alert"":""line\nbreak""}}"\n';
    const columns: CsvColumn[] = [
      { field: 'ts', header: 'timestamp', required: true },
      { field: 'code', header: 'tracking_code', required: true },
      { field: 'payload', header: 'payload' },
    ];
    const rows = await collect(
      csvRecords(streamOf(text, [1, 4]), {
        columns,
        delimiter: ';',
        headerPrefix: '//',
        source: SRC,
      }),
    );
    assert.deepEqual(rows, [
      { ts: '2024-10-21 18:49:23', code: 'abc', payload: '{"aps":{"alert":"a;b"}}' },
      { ts: '2024-10-21 18:50:00', code: 'def', payload: '{"aps":{"alert":"line\nbreak"}}' },
    ]);
    assert.deepEqual(JSON.parse(rows[0].payload), { aps: { alert: 'a;b' } });
  });

  test('headerPrefix is stripped from the first header cell only, and only when asked', async () => {
    const columns: CsvColumn[] = [
      { field: 'ts', header: 'timestamp', required: true },
      { field: 'code', header: '#code', required: true },
    ];
    const parse = (text: string, headerPrefix?: string) =>
      collect(csvRecords(streamOf(text), { columns, headerPrefix, source: SRC }));
    assert.deepEqual(await parse('#timestamp,#code\n1,a\n', '#'), [{ ts: '1', code: 'a' }]);
    // The prefix is optional on the header line.
    assert.deepEqual(await parse('timestamp,#code\n1,a\n', '#'), [{ ts: '1', code: 'a' }]);
    // Without the option the prefix is part of the column name.
    await rejectsDecode(parse('#timestamp,#code\n1,a\n'), /missing required column "timestamp"/);
    await rejectsDecode(
      parse('//timestamp,#code\n1,a\n'),
      /missing required column "timestamp"; the header \(line 1\) has 2 columns, of which these are known: "#code"/,
    );
  });

  test('a lone CR ends a line (old Mac files), as CRLF and LF do, in any mix', async () => {
    const text =
      'date (utc),app_id,external_user_id\r' +
      '2026-11-03,a,"two\rlines"\r' +
      '\r' + // a blank line
      '2026-11-04,b,u2\n' +
      '2026-11-05,c,"u3"\r\n' +
      '2026-11-06,d,\r';
    const expected = [
      { date: '2026-11-03', appId: 'a', userId: 'two\rlines' },
      { date: '2026-11-04', appId: 'b', userId: 'u2' },
      { date: '2026-11-05', appId: 'c', userId: 'u3' },
      { date: '2026-11-06', appId: 'd', userId: '' },
    ];
    for (const sizes of [[1], [2], [3, 1], [5, 8, 13], [1 << 20]]) {
      assert.deepEqual(await parseCsv(text, {}, sizes), expected, `chunk sizes ${sizes}`);
    }
    // Line numbers count a lone CR once, inside quotes too.
    await rejectsDecode(
      parseCsv('date (utc),app_id\r"x\ry",a\r\r1\r', {}, [1]),
      /line 5 has 1 fields but the header has 2/,
    );
  });

  test('a CRLF split across two chunks is one line end: no extra record, no lost line', async () => {
    const lines = ['date (utc),app_id', '2026-11-03,a', '"2026-11-04",b', '2026-11-05,"c"', ''];
    const text = lines.join('\r\n');
    // Cut after every CR in turn: each chunk but the last ends with \r, the next starts with \n.
    const pieces: Buffer[] = [];
    let from = 0;
    for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) {
      pieces.push(Buffer.from(text.slice(from, i + 1)));
      from = i + 1;
    }
    pieces.push(Buffer.from(text.slice(from)));
    assert.equal(pieces.length, 5);
    const rows = await collect(csvRecords(Readable.from(pieces), csvOpts()));
    assert.deepEqual(rows, [
      { date: '2026-11-03', appId: 'a' },
      { date: '2026-11-04', appId: 'b' },
      { date: '2026-11-05', appId: 'c' },
    ]);
    // And the line count stays right after such splits.
    const bad = Readable.from([...pieces.slice(0, 4), Buffer.from('\n2026-11-06\r\n')]);
    await rejectsDecode(collect(csvRecords(bad, csvOpts())), /line 5 has 1 fields/);
  });

  test('header names match ignoring case, spaces and underscores', async () => {
    assert.equal(normalizeHeader('Date (UTC)'), normalizeHeader('DATE(UTC)'));
    assert.equal(normalizeHeader('date (utc)'), normalizeHeader('Date_(UTC)'));
    assert.equal(normalizeHeader('external_user_id'), normalizeHeader('External User Id'));
    const rows = await parseCsv('External User Id,DATE(UTC),App_ID\nu1,2026-11-03,a\n');
    assert.deepEqual(rows, [{ date: '2026-11-03', appId: 'a', userId: 'u1' }]);
  });

  test('absent optional columns have no key; present-but-empty fields are empty strings', async () => {
    const rows = await parseCsv('date (utc),app_id,sent\n2026-11-03,a,\n');
    assert.deepEqual(rows, [{ date: '2026-11-03', appId: 'a', sent: '' }]);
    assert.equal('userId' in rows[0], false);
  });

  test('each row is a fresh plain object', async () => {
    const rows = await parseCsv('date (utc),app_id\n1,a\n2,b\n');
    assert.notEqual(rows[0], rows[1]);
    assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
    rows[0].appId = 'changed';
    assert.equal(rows[1].appId, 'b');
  });

  test('a missing required column lists what is missing and which known columns were found, quoting no file text', async () => {
    const err = await rejectsDecode(
      parseCsv('Sent,Something Else\n1,2\n'),
      /missing required columns "Date \(UTC\)", "app_id"/,
      /the header \(line 1\) has 2 columns, of which these are known: "Sent"/,
      new RegExp(SRC),
    );
    assert.ok(err instanceof DecodeError);
    assert.ok(!err.message.includes('Something'), 'a header cell of the file is not quoted');
    // A file that is not the export at all: its first line is never echoed.
    const secret = 'sk_live_51Hs3cr3tV4lu3;token=abc';
    const foreign = await rejectsDecode(parseCsv(`${secret}\n`), /none of them known/);
    assert.ok(!foreign.message.includes('sk_live'), foreign.message);
    // Also with a header and no rows.
    await rejectsDecode(parseCsv('date (utc),sent\n'), /missing required column "app_id"/);
  });

  test('unknown columns are reported once each, not per row', async () => {
    const unknown: string[] = [];
    const body = '2026-11-03,a,x,y\n'.repeat(50);
    const rows = await parseCsv('date (utc),app_id,Extra One,extra_two\n' + body, {
      onUnknownColumn: (h) => unknown.push(h),
    });
    assert.equal(rows.length, 50);
    assert.deepEqual(unknown, ['Extra One', 'extra_two']);
  });

  test('a column matched twice is an error', async () => {
    await rejectsDecode(parseCsv('date (utc),app_id,APP ID\n1,a,b\n'), /twice/);
  });

  test('a row with the wrong number of fields quotes the line and both counts', async () => {
    // Line numbers count the blank line and the newline inside the quoted field.
    const text = 'date (utc),app_id\n\n2026-11-03,"multi\nline"\n2026-11-04,b,extra\n';
    for (const sizes of [[1], [2, 3], [1 << 20]]) {
      await rejectsDecode(parseCsv(text, {}, sizes), /line 5 has 3 fields but the header has 2/);
      // csv-parse counts a CRLF inside quotes twice; the reported line must not.
      const crlf = text.replace(/\n/g, '\r\n');
      await rejectsDecode(parseCsv(crlf, {}, sizes), /line 5 has 3 fields/, new RegExp(SRC));
    }
    await rejectsDecode(
      parseCsv('date (utc),app_id\r\n1\r\n'),
      /line 2 has 1 fields but the header has 2/,
    );
  });

  test('an unterminated quote at the end fails with the line where the record starts', async () => {
    const text = 'date (utc),app_id\n2026-11-03,a\n2026-11-04,"never closed\nmore\n';
    await rejectsDecode(parseCsv(text, {}, [3]), /quote that is never closed/, /line 3/);
  });

  test('a field over maxFieldBytes names the column and the line', async () => {
    const ok = 'x'.repeat(100);
    const rows = await parseCsv(`date (utc),app_id\n1,${ok}\n`, { maxFieldBytes: 100 });
    assert.equal(rows[0].appId, ok);
    await rejectsDecode(
      parseCsv(`date (utc),app_id,Sent\n1,a,2\n1,a,${'x'.repeat(101)}\n`, { maxFieldBytes: 100 }),
      /line 3: column "Sent" is 101 bytes long, over the limit of 100 bytes/,
    );
    // Bytes, not characters: 40 x 3-byte characters.
    await rejectsDecode(
      parseCsv(`date (utc),app_id\n1,${'✓'.repeat(40)}\n`, { maxFieldBytes: 100 }),
      /column "app_id" is 120 bytes long/,
    );
  });

  test('a runaway field (unclosed quote in a big file) fails early, naming column and line', async () => {
    const { stream, pulled } = countingStream(
      Buffer.from('date (utc),app_id\n1,a\n2,"' + 'x'.repeat(1_000_000) + '\n'),
      1000,
    );
    const err = await rejectsDecode(
      collect(csvRecords(stream, csvOpts({ maxFieldBytes: 1000 }))),
      /line 3/,
      /column "app_id"/,
      /limit of 1000 bytes/,
    );
    assert.ok(err);
    assert.ok(pulled() < 100, `read ${pulled()} chunks of 1001`);
  });

  test('a header alone yields nothing; input without a header row (empty, BOM-only, blank lines) is a transient_error', async () => {
    assert.deepEqual(await parseCsv('date (utc),app_id\r\n'), []);
    assert.deepEqual(await parseCsv('\uFEFFdate (utc),app_id'), []);
    for (const empty of ['', '\uFEFF', '\n\n', '\r\n\r\n']) {
      await assert.rejects(
        parseCsv(empty),
        (err: unknown) =>
          err instanceof DecodeError &&
          err.failureType === 'transient_error' &&
          err.message.startsWith(`${SRC}: the file has no header row`),
        JSON.stringify(empty),
      );
    }
  });

  test('an input error comes out unchanged; leaving early destroys the input', async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('date (utc),app_id\n1,a\n');
        throw transientError('socket hang up');
      })(),
    );
    await assert.rejects(parseCsvFrom(failing), (err: unknown) => {
      assert.ok(!(err instanceof DecodeError));
      assert.match(String(err), /socket hang up/);
      return true;
    });

    const { stream } = countingStream(
      Buffer.from('date (utc),app_id\n' + '1,a\n'.repeat(10_000)),
      64,
    );
    for await (const row of csvRecords(stream, csvOpts())) {
      assert.equal(row.appId, 'a');
      break;
    }
    await ticks(5);
    assert.ok(stream.destroyed);
  });

  test('a slow consumer holds back the input', async () => {
    const { stream, pulled } = countingStream(
      Buffer.from('date (utc),app_id\n' + '2026-11-03,some-app\n'.repeat(100_000)),
      1024,
    );
    const iterator = csvRecords(stream, csvOpts())[Symbol.asyncIterator]();
    await iterator.next();
    await ticks(30);
    assert.ok(pulled() < 100, `read ${pulled()} input chunks ahead`);
    let n = 1;
    while (!(await iterator.next()).done) n++;
    assert.equal(n, 100_000);
  });

  test('the whole chain: gzip -> decompress -> csv', async () => {
    const lines = ['//timestamp;tracking_code;sent'];
    for (let i = 0; i < 2000; i++) lines.push(`2024-10-21 18:49:23;code-${i};${i}`);
    const gz = zlib.gzipSync(lines.join('\r\n'));
    const bytes = decompress(streamOf(gz, [100, 1]), opts('gzip'));
    const columns: CsvColumn[] = [
      { field: 'ts', header: 'timestamp', required: true },
      { field: 'sent', header: 'sent' },
    ];
    let total = 0;
    let count = 0;
    const csvOptions = { columns, delimiter: ';', headerPrefix: '//', source: SRC };
    for await (const row of csvRecords(bytes, csvOptions)) {
      total += parseCount(row.sent, 'sent') ?? 0;
      count++;
    }
    assert.equal(count, 2000);
    assert.equal(total, (1999 * 2000) / 2);
  });

  test('a decompression error surfaces through the CSV iterator unchanged', async () => {
    const gz = zlib.gzipSync(CSV_TEXT.repeat(100));
    const bytes = decompress(streamOf(gz.subarray(0, gz.length - 10), [64]), opts('gzip'));
    await rejectsDecode(
      collect(csvRecords(bytes, csvOpts({ columns: [] }))),
      /gzip file is truncated/,
    );
  });
});

function parseCsvFrom(stream: Readable) {
  return collect(csvRecords(stream, csvOpts()));
}

// ---------------------------------------------------------------------------------------------

describe('parseCount', () => {
  test('whole numbers, blanks and -1', () => {
    assert.equal(parseCount('12', 'sent'), 12);
    assert.equal(parseCount(' 12 ', 'sent'), 12);
    assert.equal(parseCount('0', 'sent'), 0);
    assert.equal(parseCount('12.0', 'sent'), 12);
    assert.equal(parseCount('12.000', 'sent'), 12);
    assert.equal(parseCount('9007199254740991', 'sent'), Number.MAX_SAFE_INTEGER);
    assert.equal(parseCount('', 'sent'), null);
    assert.equal(parseCount('  ', 'sent'), null);
    assert.equal(parseCount('-1', 'sent', { minusOneIsNull: true }), null);
    assert.equal(parseCount('-0', 'sent'), 0);
  });

  test('anything else fails, naming the column but never quoting the value', () => {
    for (const bad of [
      '1,234',
      '12.5',
      '12x',
      'x',
      '-',
      '-2',
      '+3',
      '1e3',
      '12.',
      '.5',
      '0x10',
      '1 2',
    ]) {
      assert.throws(
        () => parseCount(bad, 'delivered'),
        (err: unknown) =>
          err instanceof DecodeError &&
          !err.message.includes(JSON.stringify(bad)) &&
          err.message.includes('"delivered"'),
        bad,
      );
    }
    assert.throws(() => parseCount('-1', 'sent'), /: column "sent": expected a count/);
    assert.throws(() => parseCount('9007199254740993', 'sent'), DecodeError);
  });
});

describe('parseDay', () => {
  test('lenient day forms', () => {
    for (const raw of [
      '2026-11-03',
      ' 2026-11-03 ',
      '2026-11-03T00:00:00Z',
      '2026-11-03 00:00:00',
      '2026-11-03T00:00:00.000+00:00',
      '2026-11-03T00:00:00-05:00',
      '2026/11/03',
    ]) {
      assert.equal(parseDay(raw, 'date'), '2026-11-03', raw);
    }
    assert.equal(parseDay('2024-02-29', 'date'), '2024-02-29');
    assert.equal(parseDay('2000-02-29', 'date'), '2000-02-29');
  });

  test('bad days fail, naming the column, not the value', () => {
    for (const bad of [
      '',
      '2026-13-01',
      '2026-02-29',
      '1900-02-29',
      '2026-04-31',
      '2026-00-10',
      '2026-11-3',
      '03/11/2026',
      '2026-11/03',
      '20261103',
      '2026-11-03X',
      '2026-11-03T25:00:00',
      'yesterday',
    ]) {
      assert.throws(
        () => parseDay(bad, 'date'),
        (err: unknown) =>
          err instanceof DecodeError &&
          err.message === 'column "date": expected a date (YYYY-MM-DD)',
        bad,
      );
    }
  });
});

const DAY = 86_400_000;
const hhmm = (minutes: number): string =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

describe('parseTimestamp', () => {
  const cases: [string, string][] = [
    ['2026-11-03T13:01:01Z', '2026-11-03T13:01:01.000Z'],
    ['2026-11-03T13:01:01.5Z', '2026-11-03T13:01:01.500Z'],
    ['2026-11-03T13:01:01.123Z', '2026-11-03T13:01:01.123Z'],
    ['2026-11-03T13:01:01+02:00', '2026-11-03T11:01:01.000Z'],
    ['2026-11-03T01:01:01-05:30', '2026-11-03T06:31:01.000Z'],
    ['2026-11-03T23:30:00.250-0100', '2026-11-04T00:30:00.250Z'],
    ['2021-04-20 13:01:01', '2021-04-20T13:01:01.000Z'],
    ['2011-01-01T15:03:01.012345', '2011-01-01T15:03:01.012Z'],
    ['2011-01-01T15:03:01.999999999', '2011-01-01T15:03:01.999Z'],
    ['2024-10-21 18:49:23 UTC', '2024-10-21T18:49:23.000Z'],
    ['2024-10-21 18:49:23+00', '2024-10-21T18:49:23.000Z'],
    ['2024-10-21 18:49:23.000+00:00', '2024-10-21T18:49:23.000Z'],
    ['2024-10-21T18:49', '2024-10-21T18:49:00.000Z'],
    ['1700000000', '2023-11-14T22:13:20.000Z'],
    ['1700000000123', '2023-11-14T22:13:20.123Z'],
    [' 2021-04-20 13:01:01 ', '2021-04-20T13:01:01.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0050-03-01T00:30:00+01:00', '0050-02-28T23:30:00.000Z'],
  ];
  for (const [raw, iso] of cases) {
    test(`${JSON.stringify(raw)} -> ${iso}`, () => {
      assert.equal(parseTimestamp(raw, 'ts'), iso);
    });
  }

  test('blanks and "-" are null', () => {
    assert.equal(parseTimestamp('', 'ts'), null);
    assert.equal(parseTimestamp('-', 'ts'), null);
    assert.equal(parseTimestamp('  ', 'ts'), null);
  });

  test('anything else fails, naming the column but never quoting the value', () => {
    for (const bad of [
      '2026-11-03',
      '2026-11-03T24:00:00Z',
      '2026-11-03T13:60:00Z',
      '2026-11-03T13:01:61Z',
      '2026-02-30T13:01:01Z',
      '2026-11-03T13:01:01+2',
      '2026-11-03T13:01:01+25:00',
      '2026-11-03T13:01:01.Z',
      '2026-11-03T13:01:01 PST',
      '2026-11-03T13:01:01Zjunk',
      '170000000',
      '17000000001',
      '1700000000.5',
      'Tue, 03 Nov 2026 13:01:01 GMT',
      'now',
    ]) {
      assert.throws(
        () => parseTimestamp(bad, 'opened_at'),
        (err: unknown) =>
          err instanceof DecodeError &&
          !err.message.includes(JSON.stringify(bad)) &&
          err.message.includes('"opened_at"'),
        bad,
      );
    }
  });

  test('agrees with Date for many instants, zones and years', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 3000; i++) {
      const ms = Math.floor(1e12 + random() * 8e12);
      assert.equal(parseTimestamp(String(ms), 'ts'), new Date(ms).toISOString());
      const s = Math.floor(ms / 1000);
      if (s < 1e10) assert.equal(parseTimestamp(String(s), 'ts'), new Date(s * 1000).toISOString());
      // Any instant from year 1 to 9999, written in a random zone.
      const any = Math.floor(
        -62_135_596_800_000 + DAY + random() * (253_402_300_799_999 - 2 * DAY),
      );
      const offset = Math.round((random() * 26 - 12) * 4) * 15;
      const local = new Date(any + offset * 60_000).toISOString().slice(0, 23);
      const zone = `${offset < 0 ? '-' : '+'}${hhmm(Math.abs(offset))}`;
      assert.equal(parseTimestamp(local + zone, 'ts'), new Date(any).toISOString(), local + zone);
    }
  });

  test('a long bad value leaves a short message', () => {
    assert.throws(
      () => parseTimestamp('x'.repeat(10_000), 'ts'),
      /: column "ts": expected a timestamp$/,
    );
  });
});
