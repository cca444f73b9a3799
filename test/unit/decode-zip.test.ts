/**
 * openDecompressed and the zip reader, on real files: archives written by fflate (the emulator's
 * writer), and odd ones made by patching a few bytes of those.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { Zip, ZipDeflate } from 'fflate';
import { DecodeError, openDecompressed, type OpenOptions } from '../../src/decode';
import { openZipEntry } from '../../src/decode/zip';
import { fileRows } from '../../src/decode/chain';
import type { Raw } from '../../src/decode/records';
import { pushwooshZip } from '../../emulator/pushwoosh';
import { makeZip, patchEntry, zipLayout } from '../../emulator/zip';
import { bytesRead, openFds, readAll, rejectsDecode, TempFiles, ticks } from '../support/decode';

const SRC = 'test export 2026-11-01..2026-11-20';
const CSV = Buffer.from('date,app_id,sent\n2026-11-03,app-1,10\n2026-11-04,app-2,20\n');
const files = new TempFiles();
after(() => files.remove());

function open(data: Buffer | string, extra: Partial<OpenOptions> = {}): Promise<Readable> {
  return openDecompressed(files.write(data), { maxBytes: 64 * 1024 * 1024, source: SRC, ...extra });
}

async function unzip(zip: Buffer, extra: Partial<OpenOptions> = {}): Promise<Buffer> {
  return readAll(await open(zip, extra));
}

/** A zip from fflate's streaming writer: deflate entries with data descriptors. */
function streamingZip(entries: Record<string, Buffer>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    const zip = new Zip((err, data, final) => {
      if (err) return reject(err);
      parts.push(data);
      if (final) resolve(Buffer.concat(parts));
    });
    for (const [name, data] of Object.entries(entries)) {
      const file = new ZipDeflate(name, { level: 6 });
      zip.add(file);
      file.push(data, true);
    }
    zip.end();
  });
}

/** `zip` (with no archive comment) with `comment` as its archive comment. */
function withComment(zip: Buffer, comment: string): Buffer {
  const out = Buffer.concat([zip, Buffer.from(comment)]);
  out.writeUInt16LE(Buffer.byteLength(comment), zip.length - 2);
  return out;
}

/**
 * `zip` rewritten as zip64: every size and offset of the central directory is 0xffffffff with its
 * value in a zip64 extra field, and the end record points to a zip64 end record.
 */
function toZip64(zip: Buffer): Buffer {
  const entries = zipLayout(zip);
  const cdOffset = zip.readUInt32LE(zip.length - 22 + 16);
  const central: Buffer[] = [];
  for (const e of entries) {
    const record = Buffer.from(zip.subarray(e.central, e.central + 46));
    const nameLength = record.readUInt16LE(28);
    assert.equal(record.readUInt16LE(30) + record.readUInt16LE(32), 0, 'no extra, no comment');
    const extra = Buffer.alloc(28);
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(24, 2);
    extra.writeBigUInt64LE(BigInt(record.readUInt32LE(24)), 4);
    extra.writeBigUInt64LE(BigInt(record.readUInt32LE(20)), 12);
    extra.writeBigUInt64LE(BigInt(record.readUInt32LE(42)), 20);
    for (const at of [20, 24, 42]) record.writeUInt32LE(0xffffffff, at);
    record.writeUInt16LE(extra.length, 30);
    central.push(record, zip.subarray(e.central + 46, e.central + 46 + nameLength), extra);
  }
  const cd = Buffer.concat(central);
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(0x06064b50, 0);
  end64.writeBigUInt64LE(44n, 4);
  end64.writeUInt16LE(45, 12);
  end64.writeUInt16LE(45, 14);
  end64.writeBigUInt64LE(BigInt(entries.length), 24);
  end64.writeBigUInt64LE(BigInt(entries.length), 32);
  end64.writeBigUInt64LE(BigInt(cd.length), 40);
  end64.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(cdOffset + cd.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, cdOffset), cd, end64, locator, end]);
}

// ---------------------------------------------------------------------------------------------

describe('openDecompressed', () => {
  const gz = zlib.gzipSync(CSV);

  test('sniffs gzip, zip and plain files from their first bytes', async () => {
    assert.deepEqual(await readAll(await open(gz)), CSV);
    assert.deepEqual(await readAll(await open(makeZip({ 'a.csv': CSV }))), CSV);
    assert.deepEqual(await readAll(await open(CSV)), CSV);
    assert.deepEqual(await readAll(await open('')), Buffer.alloc(0));
  });

  test('Content-Encoding gzip means gzip, whatever the bytes', async () => {
    assert.deepEqual(await readAll(await open(gz, { contentEncoding: 'gzip' })), CSV);
    await rejectsDecode(readAll(await open(CSV, { contentEncoding: 'gzip' })), /not valid gzip/);
    // Any other encoding leaves the choice to the bytes.
    assert.deepEqual(await readAll(await open(gz, { contentEncoding: 'identity' })), CSV);
  });

  test('highWaterMark sets the read size of plain and gzip files', async () => {
    const data = randomBytes(100_000);
    const sizes: number[] = [];
    for await (const chunk of await open(data, { highWaterMark: 4096 })) {
      sizes.push((chunk as Buffer).length);
    }
    assert.ok(sizes.length >= 24, `${sizes.length} chunks`);
    assert.ok(Math.max(...sizes) <= 4096);
  });

  test('maxBytes holds for every kind of file', async () => {
    const big = Buffer.alloc(5000, 'x');
    for (const data of [big, zlib.gzipSync(big), makeZip({ 'a.csv': big })]) {
      const read = open(data, { maxBytes: 4096 }).then(readAll);
      await rejectsDecode(read, /limit of 4096 bytes/, /maxBytes/, new RegExp(SRC));
    }
  });

  test('a missing file is a file system error, not a DecodeError', async () => {
    const opts = { maxBytes: 1024, source: SRC };
    await assert.rejects(openDecompressed('/nonexistent/spdm/file', opts), (err: unknown) => {
      assert.ok(!(err instanceof DecodeError));
      assert.equal((err as { code?: string }).code, 'ENOENT');
      return true;
    });
  });

  // Incompressible, so the files are as large as the data.
  const data = randomBytes(4 * 1024 * 1024);
  for (const [kind, packed] of [
    ['plain', data],
    ['gzip', zlib.gzipSync(data, { level: 1 })],
    ['zip (deflate)', makeZip({ 'big.csv': data }, { level: 1 })],
    ['zip (stored)', makeZip({ 'big.csv': data }, { level: 0 })],
  ] as const) {
    test(`a slow consumer holds back the reading of the file (${kind})`, async () => {
      const path = files.write(packed);
      const before = bytesRead();
      const out = await openDecompressed(path, { maxBytes: 2 * data.length, source: SRC });
      await new Promise((resolve) => out.once('readable', resolve));
      const first = out.read() as Buffer | null;
      assert.ok(first !== null);
      await ticks(50);
      const ahead = bytesRead() - before;
      assert.ok(ahead < packed.length / 4, `read ${ahead} of ${packed.length} bytes ahead`);
      const rest = await readAll(out);
      assert.ok(Buffer.concat([first, rest]).equals(data));
    });
  }

  test('the file is closed when the stream ends, fails or is destroyed early', async () => {
    const zip = makeZip({ 'a.csv': randomBytes(300_000) });
    const badCrc = patchEntry(zip, 'a.csv', { crc: 1 });
    const paths = [zip, badCrc, zlib.gzipSync(randomBytes(300_000)), CSV].map((d) =>
      files.write(d),
    );
    const before = openFds();
    for (const path of paths) {
      const ended = await openDecompressed(path, { maxBytes: 1e9, source: SRC });
      await readAll(ended).catch(() => undefined);
      const early = await openDecompressed(path, { maxBytes: 1e9, source: SRC });
      await new Promise((resolve) => early.once('data', resolve));
      early.destroy();
    }
    await ticks(20);
    assert.equal(openFds(), before);
  });
});

describe('zip', () => {
  test('reads the .csv entry of fflate archives: deflate, stored, and streamed with data descriptors', async () => {
    const readme = { 'readme.txt': 'hi' };
    assert.deepEqual(await unzip(makeZip({ ...readme, 'report.csv': CSV })), CSV);
    assert.deepEqual(await unzip(makeZip({ ...readme, 'report.csv': CSV }, { level: 0 })), CSV);
    const streamed = await streamingZip({ 'notes.txt': randomBytes(3000), 'report.csv': CSV });
    assert.equal(streamed.readUInt16LE(6) & 8, 8, 'sizes in a data descriptor');
    assert.deepEqual(await unzip(streamed), CSV);
  });

  test('zip64: sizes and offsets in the zip64 extra field and end record', async () => {
    const zip64 = toZip64(makeZip({ 'notes.txt': 'skip me', 'report.csv': CSV }));
    assert.equal(zip64.readUInt32LE(zip64.length - 6), 0xffffffff);
    assert.deepEqual(await unzip(zip64), CSV);
    // Still checked: a wrong CRC in a zip64 archive fails.
    const bad = toZip64(patchEntry(makeZip({ 'report.csv': CSV }), 'report.csv', { crc: 7 }));
    await rejectsDecode(unzip(bad), /fails its CRC-32 check/);
  });

  test('default choice: the first .csv file, skipping other files, folders and macOS metadata', async () => {
    const zip = makeZip({
      'README.txt': 'read me '.repeat(100),
      'export/': new Uint8Array(0),
      '__MACOSX/export/._DATA.CSV': 'junk',
      'export/._DATA.CSV': 'junk',
      'export/DATA.CSV': CSV,
      'export/other.csv': 'other',
    });
    assert.deepEqual(
      zipLayout(zip).map((e) => e.name),
      [
        'README.txt',
        'export/',
        '__MACOSX/export/._DATA.CSV',
        'export/._DATA.CSV',
        'export/DATA.CSV',
        'export/other.csv',
      ],
    );
    assert.deepEqual(await unzip(zip), CSV);
  });

  test('zipEntry picks the entry, asked about every file in archive order', async () => {
    const zip = makeZip({ 'a.csv': 'a', 'dir/': new Uint8Array(0), 'b.csv': CSV, 'c.csv': 'c' });
    const names: string[] = [];
    const pick = (name: string): boolean => {
      names.push(name);
      return name === 'b.csv';
    };
    assert.deepEqual(await unzip(zip, { zipEntry: pick }), CSV);
    assert.deepEqual(names, ['a.csv', 'b.csv', 'c.csv']);
  });

  test('no matching entry, or no entries at all, fails and counts the files, naming none', async () => {
    const json = makeZip({ 'report.json': '{}', 'dir/': new Uint8Array(0) });
    const err = await rejectsDecode(
      unzip(json),
      /no entry to read \(expected a \.csv file\); it has 1 file$/,
    );
    assert.ok(!err.message.includes('report'), 'entry names are bytes of the download');
    await rejectsDecode(
      unzip(json, { zipEntry: (n) => n === 'x.csv' }),
      /none matches the requested entry/,
    );
    await rejectsDecode(unzip(makeZip({})), /no entry/, /it has 0 files/);
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.json`, '{}']));
    await rejectsDecode(unzip(makeZip(many)), /it has 30 files$/);
  });

  test('a truncated zip fails wherever it is cut, before any data flows', async () => {
    const data = randomBytes(20_000);
    for (const [zip, comment] of [
      [makeZip({ 'a.csv': data }), ''],
      [makeZip({ 'a.csv': data }, { level: 0 }), ''],
      [makeZip({ 'a.csv': data }), 'made by a test'],
    ] as const) {
      const cd = zipLayout(zip)[0].central;
      const whole = withComment(zip, comment);
      for (const cut of [4, 20, 40, 5000, cd - 20, cd - 1, cd + 4, whole.length - 1]) {
        const bytes = whole.subarray(0, cut);
        const err = await rejectsDecode(
          open(bytes),
          /truncated \(incomplete\)/,
          new RegExp(`ends after ${cut} bytes, before its end-of-central-directory record`),
          new RegExp(SRC),
        );
        assert.ok(err);
      }
    }
  });

  test('a zip comment does not hide the end record', async () => {
    assert.deepEqual(
      await unzip(withComment(makeZip({ 'a.csv': CSV }), 'made by PK\x05\x06')),
      CSV,
    );
  });

  test('a file that is not a zip says so, quoting none of its bytes', async () => {
    const read = (data: Buffer | string) =>
      openZipEntry(files.write(data), { maxBytes: 1024, source: SRC });
    const html = await rejectsDecode(read('<html>Access denied</html>'), /not a zip archive/);
    assert.ok(!/0x3c68746d|html|Access/.test(html.message), html.message);
    await rejectsDecode(read(zlib.deflateRawSync(CSV)), /not a zip archive/);
    await rejectsDecode(read('PK\x03'), /not a zip archive \(it does not start like one\)/);
    await rejectsDecode(read(''), /not a zip archive \(it is empty\)/);
  });

  test('corrupt, encrypted and unsupported entries fail clearly', async () => {
    const zip = makeZip({ 'a.csv': CSV });
    const [entry] = zipLayout(zip);
    await rejectsDecode(
      unzip(patchEntry(zip, 'a.csv', { crc: zlib.crc32(CSV) ^ 0x10 })),
      /the zip file is corrupt: entry 1 fails its CRC-32 check/,
      /\(the archive says 0x[0-9a-f]{8}, the data gives 0x[0-9a-f]{8}\)/,
    );
    await rejectsDecode(
      unzip(patchEntry(zip, 'a.csv', { flags: 1 })),
      /zip entry 1 is encrypted, which is not supported/,
    );
    await rejectsDecode(
      unzip(patchEntry(zip, 'a.csv', { method: 12 })),
      /uses compression method 12; only stored \(0\) and deflate \(8\) are supported/,
    );
    // Junk where the central directory belongs.
    const junkCentral = Buffer.from(zip);
    junkCentral.write('JUNK', entry.central);
    await rejectsDecode(
      unzip(junkCentral),
      /corrupt: invalid central directory file header signature$/,
    );
    // Junk where the local header belongs.
    const two = makeZip({ 'a.txt': 'skipped', 'a.csv': CSV });
    const junkLocal = Buffer.from(two);
    junkLocal.write('JUNK', zipLayout(two)[1].local);
    await rejectsDecode(
      unzip(junkLocal),
      /the zip file is corrupt: invalid local file header signature$/,
    );
    // Stored plain text declared deflate.
    const stored = makeZip({ 'a.csv': CSV }, { level: 0 });
    await rejectsDecode(
      unzip(patchEntry(stored, 'a.csv', { method: 8 })),
      /corrupt: the compressed data of entry 1 is invalid or incomplete/,
    );
    // A stored entry whose two sizes differ.
    await rejectsDecode(
      unzip(patchEntry(stored, 'a.csv', { size: 3 })),
      /corrupt: .*size mismatch/,
    );
  });

  test("the emulator's truncated_entry archive: consistent headers, data that does not inflate", async () => {
    const zip = pushwooshZip('tracking.csv', CSV, new Date(), 'truncated_entry');
    await rejectsDecode(
      unzip(zip),
      /the zip file is corrupt: the compressed data of entry 1 is invalid or incomplete \(unexpected end of file\)/,
    );
  });

  test('an entry holding more or less data than it declares fails at the declared size', async () => {
    const data = Buffer.alloc(200_000, 'a');
    const zip = makeZip({ 'a.csv': data });
    for (const size of [data.length - 1, data.length + 1, 1000]) {
      const lying = patchEntry(zip, 'a.csv', { size });
      const out = await open(lying);
      let passed = 0;
      out.on('data', (chunk: Buffer) => (passed += chunk.length));
      await rejectsDecode(
        readAll(out),
        new RegExp(`corrupt: entry 1 does not hold the ${size} bytes the archive declares`),
      );
      assert.ok(passed <= size, `passed ${passed} bytes`);
    }
  });

  test('a zip bomb fails on its declared size, before anything is inflated', async () => {
    const bomb = makeZip({ 'bomb.csv': Buffer.alloc(32 * 1024 * 1024) }, { level: 9 });
    assert.ok(bomb.length < 200_000);
    await rejectsDecode(
      open(bomb, { maxBytes: 1024 * 1024 }),
      /larger than the limit of 1048576 bytes \(1 MiB\)/,
      new RegExp(SRC),
    );
  });
});

describe('fileRows over a zip of several CSV entries', () => {
  const columns = [
    { field: 'date', header: 'date', required: true },
    { field: 'sent', header: 'sent' },
  ];
  async function rowsOf(zip: Buffer): Promise<Raw[][]> {
    const out: Raw[][] = [];
    for await (const batch of fileRows(
      { path: files.write(zip) },
      { columns, source: SRC, maxBytes: 1024 * 1024 },
    ))
      out.push(...batch);
    return out;
  }

  test('reads every CSV entry in archive order, each by its own header', async () => {
    const zip = makeZip({
      'part_1.csv': 'date,sent\n2026-11-03,1\n2026-11-04,2\n',
      'readme.txt': 'not data',
      // Another column order: matched by header, like any file.
      'part_2.csv': 'sent,date\n3,2026-11-05\n',
    });
    assert.deepEqual(await rowsOf(zip), [
      ['2026-11-03', '1'],
      ['2026-11-04', '2'],
      ['2026-11-05', '3'],
    ]);
  });

  test('entries with other columns than the first fail, naming the entry by number', async () => {
    const zip = makeZip({
      'a.csv': 'date,sent\n2026-11-03,1\n',
      'b.csv': 'date,sent,extra\n2026-11-04,2,x\n',
    });
    await rejectsDecode(
      rowsOf(zip),
      new RegExp(
        `^${SRC} \\(zip entry 2 of 2\\): its header differs from the first entry's \\(3 and 2 columns\\)`,
      ),
    );
  });

  test('an entry without a header row is an error, not "no data"', async () => {
    const zip = makeZip({ 'a.csv': 'date,sent\n2026-11-03,1\n', 'b.csv': '' });
    await assert.rejects(
      rowsOf(zip),
      (e: unknown) =>
        e instanceof DecodeError &&
        e.failureType === 'transient_error' &&
        e.message.startsWith(`${SRC} (zip entry 2 of 2): the file has no header row`),
    );
    // One entry, empty: the same, without an entry number.
    await assert.rejects(rowsOf(makeZip({ 'a.csv': '' })), /^[^(]+: the file has no header row/);
  });

  test('the entries share the limit on decompressed bytes', async () => {
    const part = `date,sent\n${'2026-11-03,1\n'.repeat(50_000)}`;
    const zip = makeZip({ 'a.csv': part, 'b.csv': part });
    const out: Raw[][] = [];
    await rejectsDecode(
      (async () => {
        for await (const b of fileRows(
          { path: files.write(zip) },
          { columns, source: SRC, maxBytes: Math.ceil(part.length * 1.5) },
        ))
          out.push(...b);
      })(),
      /larger than the limit/,
    );
    assert.equal(out.length, 0, 'nothing read: the declared sizes are over the limit');
  });
});
