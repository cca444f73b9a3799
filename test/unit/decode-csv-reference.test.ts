/**
 * The CSV tokenizer against csv-parse (the reference) on random files, and the cost of long
 * records, counted in characters examined rather than timed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { type CsvColumn, csvRows } from '../../src/decode';
import { chunks, collect } from '../support/decode';

/** mulberry32: a small seeded PRNG, so every case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'b',
  'xyz',
  '0',
  ' ',
  '"',
  '""',
  ',',
  ';',
  '\n',
  '\r',
  '\r\n',
  'Zü',
  '✓',
  '😀',
];
const LINE_ENDS = ['\n', '\r\n', '\r'];

interface Case {
  text: string;
  delimiter: string;
  width: number;
}

/** A random CSV file: quoting where needed (and sometimes where not), any line ends, a BOM. */
function randomCsv(random: () => number): Case {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const delimiter = pick([',', ';']);
  const width = 1 + Math.floor(random() * 5);
  const cell = (value: string): string =>
    /[",;\r\n]/.test(value) || random() < 0.2 ? `"${value.replace(/"/g, '""')}"` : value;
  const field = (): string => {
    if (random() < 0.03) return 'long '.repeat(40 + Math.floor(random() * 200));
    let value = '';
    for (let k = Math.floor(random() * 5); k > 0; k--) value += pick(PIECES);
    return value;
  };
  const header = Array.from({ length: width }, (_, i) => cell(`c${i}`));
  const lines = [header.join(delimiter)];
  for (let r = Math.floor(random() * 12); r > 0; r--) {
    if (random() < 0.1) lines.push(''); // a blank line
    lines.push(Array.from({ length: width }, () => cell(field())).join(delimiter));
  }
  let text = random() < 0.3 ? '\uFEFF' : '';
  lines.forEach((line, i) => {
    text += line;
    if (i < lines.length - 1 || random() < 0.7) text += pick(LINE_ENDS);
  });
  return { text, delimiter, width };
}

async function ours(c: Case, sizes: number[]): Promise<(string | undefined)[][]> {
  const columns: CsvColumn[] = Array.from({ length: c.width }, (_, i) => ({
    field: `c${i}`,
    header: `c${i}`,
  }));
  const input = Readable.from(chunks(c.text, sizes));
  const batches = await collect(csvRows(input, { columns, delimiter: c.delimiter, source: 'x' }));
  return batches.flat();
}

function reference(c: Case): string[][] {
  const records = parse(Buffer.from(c.text), {
    delimiter: c.delimiter,
    record_delimiter: LINE_ENDS,
    skip_empty_lines: true,
    bom: true,
  }) as string[][];
  return records.slice(1);
}

describe('CSV tokenizer vs csv-parse', () => {
  test('same rows for 800 random files in random chunk sizes', async () => {
    let rows = 0;
    for (let seed = 1; seed <= 800; seed++) {
      const random = prng(seed);
      const c = randomCsv(random);
      const max = random() < 0.5 ? 4 : 64;
      const sizes = Array.from({ length: 7 }, () => 1 + Math.floor(random() * max));
      const expected = reference(c);
      rows += expected.length;
      const replay = `seed ${seed}, chunk sizes ${sizes}: ${JSON.stringify(c.text)}`;
      assert.deepEqual(await ours(c, sizes).catch((err: Error) => err.message), expected, replay);
    }
    assert.ok(rows > 3000, `${rows} rows compared`);
  });
});

/**
 * Characters examined by string scans while `fn` runs: one per charCodeAt call, plus the span
 * each indexOf searched. Node's own modules keep the original methods, so only our code counts.
 */
async function scanWork(fn: () => Promise<unknown>): Promise<number> {
  const proto = String.prototype;
  const { charCodeAt, indexOf } = proto;
  let work = 0;
  proto.charCodeAt = function (this: string, index: number): number {
    work++;
    return charCodeAt.call(this, index);
  };
  proto.indexOf = function (this: string, search: string, from = 0): number {
    const at = indexOf.call(this, search, from);
    work += (at === -1 ? this.length : at + search.length) - Math.max(0, from);
    return at;
  };
  try {
    await fn();
  } finally {
    proto.charCodeAt = charCodeAt;
    proto.indexOf = indexOf;
  }
  return work;
}

describe('CSV tokenizer cost', () => {
  const columns: CsvColumn[] = [
    { field: 'id', header: 'id' },
    { field: 'quoted', header: 'quoted' },
    { field: 'plain', header: 'plain' },
  ];

  /** A file whose one record holds two fields of `n` characters each, read in 512-byte chunks. */
  async function parseLong(n: number): Promise<number> {
    const quoted = 'ab"c\r\nd'.repeat(n / 8).padEnd(n, 'x');
    const plain = 'y'.repeat(n);
    const text = `id,quoted,plain\r\n1,"${quoted.replace(/"/g, '""')}",${plain}\r\n2,z,z\r\n`;
    let rows: (string | undefined)[][] = [];
    const work = await scanWork(async () => {
      const input = Readable.from(chunks(text, [512]));
      rows = (await collect(csvRows(input, { columns, source: 'x' }))).flat();
    });
    assert.deepEqual(rows, [
      ['1', quoted, plain],
      ['2', 'z', 'z'],
    ]);
    return work / text.length;
  }

  test('a record far longer than a chunk costs linear work: each character is examined about once', async () => {
    const small = await parseLong(64 * 1024);
    const large = await parseLong(256 * 1024);
    // Re-scanning the open record on every chunk would cost ~4x more per character at 4x the size.
    assert.ok(large < 3, `${large.toFixed(2)} characters examined per character of input`);
    assert.ok(large / small < 1.3, `work per character grew ${(large / small).toFixed(2)}x`);
  });
});
