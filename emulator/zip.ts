import { zipSync, type ZipOptions } from 'fflate';

/*
 * ZIP archives for the emulator and the tests: fflate writes them; the odd ones (damaged,
 * unsupported) are fflate archives with a few header bytes patched.
 */

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIR = 0x06054b50;
const EOCD_SIZE = 22;

/** A zip of `files` (name -> content), in that order; deflate unless `level: 0` (stored). */
export function makeZip(files: Record<string, Uint8Array | string>, opts: ZipOptions = {}): Buffer {
  const data: Record<string, Uint8Array> = {};
  for (const [name, content] of Object.entries(files)) {
    data[name] = typeof content === 'string' ? Buffer.from(content) : content;
  }
  return Buffer.from(zipSync(data, opts));
}

/** Where one entry's records sit in an archive. */
export interface ZipEntryLayout {
  name: string;
  /** Offset of its central directory record. */
  central: number;
  /** Offset of its local header. */
  local: number;
  /** Offset of its (compressed) data, and that data's length. */
  dataStart: number;
  compressedSize: number;
}

/** The entries of a zip with no archive comment, read from its central directory. */
export function zipLayout(zip: Buffer): ZipEntryLayout[] {
  const eocd = zip.length - EOCD_SIZE;
  if (zip.readUInt32LE(eocd) !== END_OF_CENTRAL_DIR) throw new Error('no end record');
  const out: ZipEntryLayout[] = [];
  let p = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < zip.readUInt16LE(eocd + 10); i++) {
    if (zip.readUInt32LE(p) !== CENTRAL_HEADER) throw new Error(`no central record at ${p}`);
    const nameLength = zip.readUInt16LE(p + 28);
    const local = zip.readUInt32LE(p + 42);
    if (zip.readUInt32LE(local) !== LOCAL_HEADER) throw new Error(`no local header at ${local}`);
    out.push({
      name: zip.toString('utf8', p + 46, p + 46 + nameLength),
      central: p,
      local,
      dataStart: local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28),
      compressedSize: zip.readUInt32LE(p + 20),
    });
    p += 46 + nameLength + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return out;
}

export interface EntryPatch {
  /** General-purpose flag bits to set (1: encrypted). */
  flags?: number;
  method?: number;
  crc?: number;
  /** Uncompressed size. */
  size?: number;
}

/**
 * A copy of `zip` whose entry `name` declares other values, the same in its local header and
 * its central directory record (as a consistent writer would have put them).
 */
export function patchEntry(zip: Buffer, name: string, patch: EntryPatch): Buffer {
  const entry = zipLayout(zip).find((e) => e.name === name);
  if (!entry) throw new Error(`no entry ${JSON.stringify(name)}`);
  const out = Buffer.from(zip);
  // The same fields sit 2 bytes further into a central record than into a local header.
  for (const [at, shift] of [
    [entry.local, 0],
    [entry.central, 2],
  ]) {
    const field = (offset: number) => at + offset + shift;
    if (patch.flags !== undefined) {
      out.writeUInt16LE(out.readUInt16LE(field(6)) | patch.flags, field(6));
    }
    if (patch.method !== undefined) out.writeUInt16LE(patch.method, field(8));
    if (patch.crc !== undefined) out.writeUInt32LE(patch.crc >>> 0, field(14));
    if (patch.size !== undefined) out.writeUInt32LE(patch.size, field(22));
  }
  return out;
}
