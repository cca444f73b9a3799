import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { DecodeError, describeBytes, quoteValue } from './errors';

export interface CsvColumn {
  /** Key in the yielded rows. */
  field: string;
  /** Column name in the file, matched case-insensitively and ignoring spaces and underscores. */
  header: string;
  required?: boolean;
}

export interface CsvOptions {
  columns: CsvColumn[];
  /** Default ','. */
  delimiter?: string;
  /** Default 1 MiB. */
  maxFieldBytes?: number;
  /** Human name of the file for error messages. */
  source: string;
  /** Called once per header column that matches none of `columns`. */
  onUnknownColumn?: (header: string) => void;
  /** Stripped from the first header cell when it starts with it (a header written as a comment). */
  headerPrefix?: string;
  /** Called with the header's cells once it is read and checked. */
  onHeader?: (headers: readonly string[]) => void;
}

export const DEFAULT_MAX_FIELD_BYTES = 1024 * 1024;

/**
 * A record still incomplete past this many fields' worth of characters is a runaway (an unclosed
 * quote, a wrong delimiter): it fails early instead of growing memory.
 */
const RECORD_BOUND_IN_FIELDS = 16;

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** `"Date (UTC)"` and `"DATE(UTC)"` -> `"date(utc)"`; `"External User Id"` -> `"externaluserid"`. */
export function normalizeHeader(header: string): string {
  return header.replace(/[\s_]+/g, '').toLowerCase();
}

/** Where a chunk ended inside a record: at the start of a field, or inside one. */
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** In a quoted field right after a quote: it closes the field unless another quote follows. */
const QUOTE_END = 3;

/**
 * Splits CSV text into records (RFC 4180: quoted fields may hold delimiters, doubled quotes and
 * newlines; CRLF, LF or a lone CR end a line; blank lines skipped). Hand-written because this is
 * the hot path of multi-million-row exports: it scans with charCodeAt/indexOf and allocates only
 * the fields. Each character is scanned once: a record left open by a chunk resumes where the
 * chunk ended, its unfinished field kept as pieces joined once, so long records cost linear time.
 */
class Tokenizer {
  /** Fields of the record a chunk left open; null between records. */
  private fields: string[] | null = null;
  private mode = FIELD_START;
  /** The unfinished field's text so far (unescaped when quoted). */
  private readonly pieces: string[] = [];
  /** The last chunk ended with a CR that ended a line: an LF opening the next belongs to it. */
  private pendingLF = false;
  /** Characters of the open record in earlier chunks. */
  private carried = 0;
  /** Line where the next record starts. */
  private line = 1;
  private recordLine = 1;
  /** Line ends inside the quoted fields of the record so far. */
  private newlines = 0;
  private readonly delimiter: number;

  constructor(
    delimiter: string,
    private readonly maxRecordChars: number,
    private readonly runaway: (line: number, fieldIndex: number) => Error,
    private readonly unclosed: (line: number) => Error,
  ) {
    if (delimiter.length !== 1 || '"\r\n'.includes(delimiter))
      throw new Error(`CSV delimiter must be one character, got ${JSON.stringify(delimiter)}`);
    this.delimiter = delimiter.charCodeAt(0);
  }

  /** Parses every complete record of the text so far; `final` parses the last one too. */
  feed(s: string, final: boolean, emit: (fields: string[], line: number) => void): void {
    const n = s.length;
    const D = this.delimiter;
    let p = 0;
    if (this.pendingLF && n > 0) {
      this.pendingLF = false;
      if (s.charCodeAt(0) === LF) p = 1;
    }
    let fields = this.fields;
    let mode = this.mode;
    let recordStart = 0;
    records: for (;;) {
      if (fields === null) {
        p = this.skipBlankLines(s, p, final);
        if (p === n) {
          this.fields = null;
          return;
        }
        fields = [];
        mode = FIELD_START;
        recordStart = p;
        this.recordLine = this.line;
        this.newlines = 0;
      }
      // One field per turn, from `p`: its start, or where the last chunk stopped inside it.
      for (;;) {
        if (mode === FIELD_START) {
          if (p === n) {
            if (!final) break records;
            // A record that ends right after a delimiter, at the end of the file: one empty field.
            fields.push('');
            break;
          }
          if (s.charCodeAt(p) === QUOTE) {
            mode = QUOTED;
            p++;
          } else mode = UNQUOTED;
        }
        if (mode === UNQUOTED) {
          let j = p;
          while (j < n) {
            const c = s.charCodeAt(j);
            if (c === D || c === LF || c === CR) break;
            j++;
          }
          if (j === n && !final) {
            this.pieces.push(s.slice(p));
            break records;
          }
          fields.push(this.take(s.slice(p, j)));
          p = j;
        } else {
          const end = this.quoted(s, p, final, mode);
          if (end < 0) {
            mode = this.mode;
            break records;
          }
          const value = this.take('');
          this.newlines += lineBreaks(value);
          fields.push(value);
          p = end;
          const c = s.charCodeAt(p);
          if (p < n && c !== D && c !== LF && c !== CR) {
            throw new DecodeError(
              `line ${this.recordLine + this.newlines}: a quoted field is followed by another character instead of a delimiter or a line end`,
            );
          }
        }
        mode = FIELD_START;
        if (p === n) break; // the end of the file
        const c = s.charCodeAt(p++);
        if (c === D) continue;
        if (c === CR) p = this.afterCR(s, p, final);
        break;
      }
      emit(fields, this.recordLine);
      this.line = this.recordLine + this.newlines + 1;
      fields = null;
      this.carried = 0;
    }
    // The chunk ended inside a record.
    this.fields = fields;
    this.mode = mode;
    this.carried += n - recordStart;
    if (this.carried > this.maxRecordChars) throw this.runaway(this.recordLine, fields.length);
  }

  /** Skips the line ends from `p` (empty lines), counting them; returns where a record starts. */
  private skipBlankLines(s: string, p: number, final: boolean): number {
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c !== LF && c !== CR) break;
      p++;
      this.line++;
      if (c === CR) p = this.afterCR(s, p, final);
    }
    return p;
  }

  /** Past the LF of a CRLF; a CR that ends the chunk leaves the check to the next chunk. */
  private afterCR(s: string, p: number, final: boolean): number {
    if (p < s.length) return s.charCodeAt(p) === LF ? p + 1 : p;
    if (!final) this.pendingLF = true;
    return p;
  }

  /**
   * Reads a quoted field from `p` (after its opening quote, or where the last chunk left it) into
   * `pieces`; returns the index after its closing quote, or -1 when the chunk ends first.
   */
  private quoted(s: string, p: number, final: boolean, mode: number): number {
    const n = s.length;
    if (mode === QUOTE_END) {
      if (p === n && !final) return -1;
      if (p === n || s.charCodeAt(p) !== QUOTE) return p;
      this.pieces.push('"');
      p++;
    }
    for (;;) {
      const q = s.indexOf('"', p);
      if (q === -1) {
        if (final) throw this.unclosed(this.recordLine);
        this.pieces.push(s.slice(p));
        this.mode = QUOTED;
        return -1;
      }
      if (q + 1 === n && !final) {
        this.pieces.push(s.slice(p, q));
        this.mode = QUOTE_END;
        return -1;
      }
      if (q + 1 < n && s.charCodeAt(q + 1) === QUOTE) {
        this.pieces.push(s.slice(p, q + 1));
        p = q + 2;
        continue;
      }
      this.pieces.push(s.slice(p, q));
      return q + 1;
    }
  }

  /** The unfinished field's pieces and `last`, as one string. */
  private take(last: string): string {
    const pieces = this.pieces;
    if (pieces.length === 0) return last;
    pieces.push(last);
    const value = pieces.join('');
    pieces.length = 0;
    return value;
  }
}

/** Line ends (CRLF, LF, lone CR) inside a value. */
function lineBreaks(value: string): number {
  let k = 0;
  for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) k++;
  for (let i = value.indexOf('\r'); i !== -1; i = value.indexOf('\r', i + 1)) {
    if (value.charCodeAt(i + 1) !== LF) k++;
  }
  return k;
}

/** Maps header names to the declared columns and checks each record. */
class CsvReader {
  readonly source: string;
  private readonly maxFieldBytes: number;
  /** A field of at most this many UTF-16 units cannot exceed `maxFieldBytes` in UTF-8. */
  private readonly safeFieldLength: number;
  private readonly columnByKey = new Map<string, number>();
  private headers: string[] | null = null;
  /** Per column of the file, the declared header it matches (quoted), or `#n`: never file text. */
  private names: string[] = [];
  private width = 0;
  /** Per declared column, its index in the file's records, or -1. */
  positions: number[] = [];
  readonly tokenizer: Tokenizer;

  constructor(private readonly opts: CsvOptions) {
    const maxFieldBytes = opts.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
    if (!(Number.isInteger(maxFieldBytes) && maxFieldBytes > 0)) {
      throw new Error(`maxFieldBytes must be a positive integer, got ${maxFieldBytes}`);
    }
    this.source = opts.source;
    this.maxFieldBytes = maxFieldBytes;
    this.safeFieldLength = Math.floor(maxFieldBytes / 3);
    opts.columns.forEach((column, i) => {
      const key = normalizeHeader(column.header);
      if (this.columnByKey.has(key)) {
        throw new Error(`CSV columns ${JSON.stringify(column.header)} match the same header twice`);
      }
      this.columnByKey.set(key, i);
    });
    this.tokenizer = new Tokenizer(
      opts.delimiter ?? ',',
      maxFieldBytes * RECORD_BOUND_IN_FIELDS,
      (line, index) =>
        new DecodeError(
          `${this.source}: line ${line}: the record grew past ${describeBytes(maxFieldBytes * RECORD_BOUND_IN_FIELDS)} ` +
            `while reading column ${this.columnName(index)}: a field is over the limit of ${describeBytes(maxFieldBytes)} ` +
            '(maxFieldBytes), or a quote is never closed',
        ),
      (line) =>
        new DecodeError(
          `${this.source}: the file ends inside a quoted field: the record starting at line ${line} opens a quote that is never closed`,
        ),
    );
  }

  /** Whether a header row was read. */
  get hasHeader(): boolean {
    return this.headers !== null;
  }

  /** True for a data row (checked); false for the header, which it reads. */
  check(fields: string[], line: number): boolean {
    if (this.headers === null) {
      this.readHeader(fields, line);
      return false;
    }
    if (fields.length !== this.width) {
      throw new DecodeError(
        `${this.source}: line ${line} has ${fields.length} fields but the header has ${this.width}`,
      );
    }
    const safe = this.safeFieldLength;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f.length > safe) {
        const bytes = Buffer.byteLength(f);
        if (bytes > this.maxFieldBytes) {
          throw new DecodeError(
            `${this.source}: line ${line}: column ${this.columnName(i)} is ${bytes} bytes long, ` +
              `over the limit of ${describeBytes(this.maxFieldBytes)} (maxFieldBytes)`,
          );
        }
      }
    }
    return true;
  }

  private readHeader(fields: string[], line: number): void {
    const headers = fields.slice();
    const prefix = this.opts.headerPrefix;
    if (prefix && headers.length > 0 && headers[0].startsWith(prefix)) {
      headers[0] = headers[0].slice(prefix.length);
    }
    const at = this.opts.columns.map(() => -1);
    const unknown: string[] = [];
    headers.forEach((header, i) => {
      const key = normalizeHeader(header);
      const c = this.columnByKey.get(key);
      if (c === undefined) {
        if (key !== '') unknown.push(header);
      } else if (at[c] !== -1) {
        throw new DecodeError(
          `${this.source}: line ${line}: the header has column ` +
            `${quoteValue(this.opts.columns[c].header)} twice (columns ${at[c] + 1} and ${i + 1})`,
        );
      } else {
        at[c] = i;
      }
    });
    const missing = this.opts.columns.filter((column, c) => column.required && at[c] === -1);
    if (missing.length > 0) {
      // The file's own cells are not quoted: a file that is not the export (an error page, a
      // credential) has its first line here. The columns it has of ours say enough.
      const known = this.opts.columns
        .filter((_, c) => at[c] !== -1)
        .map((c) => quoteValue(c.header));
      throw new DecodeError(
        `${this.source}: missing required column${missing.length > 1 ? 's' : ''} ` +
          `${missing.map((column) => quoteValue(column.header)).join(', ')}; ` +
          `the header (line ${line}) has ${headers.length} column${headers.length === 1 ? '' : 's'}, ` +
          (known.length ? `of which these are known: ${known.join(', ')}` : 'none of them known') +
          '. Is the file an export of this kind at all?',
      );
    }
    this.positions = at;
    this.headers = headers;
    this.names = headers.map((_, i) => `#${i + 1}`);
    at.forEach((i, c) => {
      if (i !== -1) this.names[i] = quoteValue(this.opts.columns[c].header);
    });
    this.width = headers.length;
    this.opts.onHeader?.(headers);
    if (this.opts.onUnknownColumn) for (const header of unknown) this.opts.onUnknownColumn(header);
  }

  private columnName(index: number): string {
    return this.names[index] ?? `#${index + 1}`;
  }
}

/**
 * Parses CSV bytes into batches of rows, one batch per input chunk. Each row lists the declared
 * columns' values in `opts.columns` order (undefined for a column the file lacks). Batches keep
 * the per-row cost of a hot path low; backpressure reaches `input` through the async iteration.
 */
export async function* csvRows(
  input: Readable,
  opts: CsvOptions,
): AsyncGenerator<(string | undefined)[][]> {
  const reader = new CsvReader(opts);
  const decoder = new StringDecoder('utf8');
  let first = true;
  let batch: (string | undefined)[][] = [];
  const emit = (fields: string[], line: number) => {
    if (!reader.check(fields, line)) return;
    const pos = reader.positions;
    const row = new Array<string | undefined>(pos.length);
    for (let k = 0; k < pos.length; k++) row[k] = pos[k] < 0 ? undefined : fields[pos[k]];
    batch.push(row);
  };
  const wrap = (text: string, final: boolean) => {
    try {
      reader.tokenizer.feed(text, final, emit);
    } catch (err) {
      if (err instanceof DecodeError && !err.message.startsWith(reader.source)) {
        throw new DecodeError(
          `${reader.source}: ${err.message}`,
          err.failureType,
          err.internalMessage,
        );
      }
      throw err;
    }
  };
  for await (const chunk of input) {
    let text = decoder.write(chunk as Buffer);
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    wrap(text, false);
    if (batch.length) {
      const out = batch;
      batch = [];
      yield out;
    }
  }
  let tail = decoder.end();
  if (first && tail.charCodeAt(0) === 0xfeff) tail = tail.slice(1);
  wrap(tail, true);
  if (!reader.hasHeader) throw noHeader(reader.source);
  if (batch.length) yield batch;
}

/**
 * Every vendor's file starts with a header, so a header-only file is a valid empty export; a file
 * without one is a cut answer, a glitch or an object read before it was written. Taking it as
 * "no data" would checkpoint days that were never read; a retry may well get the whole file.
 */
function noHeader(source: string): DecodeError {
  return new DecodeError(
    `${source}: the file has no header row (it is empty or holds only blank lines). ` +
      'An export always has one, so the download is taken as incomplete, not as "no data"; ' +
      'nothing of it is checkpointed, and a retry may get the whole file.',
    'transient_error',
  );
}

/**
 * Parses the CSV bytes of `input` into one fresh `{field: rawString}` object per data row, read
 * as the consumer asks for them. Problems with the file are DecodeErrors; errors of `input` come
 * out unchanged. Leaving the loop early destroys `input`.
 */
export async function* csvRecords(
  input: Readable,
  opts: CsvOptions,
): AsyncGenerator<Record<string, string>> {
  const fields = opts.columns.map((c) => c.field);
  for await (const rows of csvRows(input, opts)) {
    for (const row of rows) {
      const out: Record<string, string> = {};
      for (let k = 0; k < fields.length; k++)
        if (row[k] !== undefined) out[fields[k]] = row[k] as string;
      yield out;
    }
  }
}
