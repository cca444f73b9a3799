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
}

export const DEFAULT_MAX_FIELD_BYTES = 1024 * 1024;

/**
 * A record still incomplete past this many fields' worth of characters is a runaway (an unclosed
 * quote, a wrong delimiter): it fails early instead of growing memory.
 */
const RECORD_BOUND_IN_FIELDS = 16;
const MAX_LISTED_HEADERS = 50;

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** `"Date (UTC)"` and `"DATE(UTC)"` -> `"date(utc)"`; `"External User Id"` -> `"externaluserid"`. */
export function normalizeHeader(header: string): string {
  return header.replace(/[\s_]+/g, '').toLowerCase();
}

/**
 * Splits CSV text into records (RFC 4180: quoted fields may hold delimiters, doubled quotes and
 * newlines; CRLF or LF; blank lines skipped). Hand-written because this is the hot path of
 * multi-million-row exports: it scans with charCodeAt/indexOf and allocates only the fields.
 */
class Tokenizer {
  private rest = '';
  /** Line number where `rest` starts. */
  private line = 1;
  private readonly delimiter: number;

  constructor(
    delimiter: string,
    private readonly maxRecordChars: number,
    private readonly runaway: (line: number, fieldIndex: number) => Error,
    private readonly unclosed: (line: number) => Error,
  ) {
    if (delimiter.length !== 1)
      throw new Error(`CSV delimiter must be one character, got ${JSON.stringify(delimiter)}`);
    this.delimiter = delimiter.charCodeAt(0);
  }

  /** Parses every complete record of the text so far; `final` parses the last one too. */
  feed(text: string, final: boolean, emit: (fields: string[], line: number) => void): void {
    const s = this.rest.length ? this.rest + text : text;
    const n = s.length;
    const D = this.delimiter;
    let p = 0;
    let line = this.line;
    for (;;) {
      // Blank lines.
      while (p < n) {
        const c = s.charCodeAt(p);
        if (c === LF) {
          p++;
          line++;
        } else if (c === CR && p + 1 < n && s.charCodeAt(p + 1) === LF) {
          p += 2;
          line++;
        } else if (c === CR && p + 1 === n && final) {
          p++;
        } else break;
      }
      if (p >= n) {
        this.rest = '';
        this.line = line;
        return;
      }
      const start = p;
      const fields: string[] = [];
      let newlines = 0;
      let complete = false;
      for (;;) {
        if (p >= n) {
          // A record that ends right after a delimiter, at the end of the file: one empty field.
          if (final) {
            fields.push('');
            complete = true;
          }
          break;
        }
        if (s.charCodeAt(p) === QUOTE) {
          let value = '';
          let from = p + 1;
          let end = -1;
          for (;;) {
            const q = s.indexOf('"', from);
            if (q === -1 || (q + 1 === n && !final)) break;
            if (q + 1 < n && s.charCodeAt(q + 1) === QUOTE) {
              value += s.slice(from, q + 1);
              from = q + 2;
              continue;
            }
            value += s.slice(from, q);
            end = q + 1;
            break;
          }
          if (end === -1) {
            if (final) throw this.unclosed(line);
            break;
          }
          for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) newlines++;
          fields.push(value);
          p = end;
          if (p === n) {
            if (final) complete = true;
            break;
          }
          const c = s.charCodeAt(p);
          if (c === D) {
            p++;
            continue;
          }
          if (c === LF) {
            p++;
            complete = true;
            break;
          }
          if (c === CR) {
            if (p + 1 === n) {
              if (final) {
                p++;
                complete = true;
              }
              break;
            }
            if (s.charCodeAt(p + 1) === LF) {
              p += 2;
              complete = true;
              break;
            }
          }
          throw new DecodeError(
            `line ${line + newlines}: a quoted field is followed by ${quoteValue(s[p])} instead of a delimiter or a line end`,
          );
        }
        let j = p;
        while (j < n) {
          const c = s.charCodeAt(j);
          if (c === D || c === LF) break;
          j++;
        }
        if (j === n) {
          if (final) {
            fields.push(s.charCodeAt(n - 1) === CR ? s.slice(p, n - 1) : s.slice(p, n));
            p = n;
            complete = true;
          }
          break;
        }
        if (s.charCodeAt(j) === D) {
          fields.push(s.slice(p, j));
          p = j + 1;
          continue;
        }
        fields.push(s.slice(p, j > p && s.charCodeAt(j - 1) === CR ? j - 1 : j));
        p = j + 1;
        complete = true;
        break;
      }
      if (!complete) {
        if (n - start > this.maxRecordChars) throw this.runaway(line, fields.length);
        this.rest = s.slice(start);
        this.line = line;
        return;
      }
      emit(fields, line);
      line += newlines + 1;
    }
  }
}

/** Maps header names to the declared columns and checks each record. */
class CsvReader {
  readonly source: string;
  private readonly maxFieldBytes: number;
  /** A field of at most this many UTF-16 units cannot exceed `maxFieldBytes` in UTF-8. */
  private readonly safeFieldLength: number;
  private readonly columnByKey = new Map<string, number>();
  private headers: string[] | null = null;
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
    // Pushwoosh writes its header as a comment: `//timestamp;tracking_code;...`.
    if (headers.length > 0 && headers[0].startsWith('//')) headers[0] = headers[0].slice(2);
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
            `${quoteValue(this.opts.columns[c].header)} twice (${quoteValue(headers[at[c]])} and ${quoteValue(header)})`,
        );
      } else {
        at[c] = i;
      }
    });
    const missing = this.opts.columns.filter((column, c) => column.required && at[c] === -1);
    if (missing.length > 0) {
      const found = headers.slice(0, MAX_LISTED_HEADERS).map(quoteValue).join(', ');
      const more = headers.length > MAX_LISTED_HEADERS ? `, … (${headers.length} in all)` : '';
      throw new DecodeError(
        `${this.source}: missing required column${missing.length > 1 ? 's' : ''} ` +
          `${missing.map((column) => quoteValue(column.header)).join(', ')}; ` +
          `the header (line ${line}) has: ${found || 'no columns'}${more}`,
      );
    }
    this.positions = at;
    this.headers = headers;
    this.width = headers.length;
    if (this.opts.onUnknownColumn) for (const header of unknown) this.opts.onUnknownColumn(header);
  }

  private columnName(index: number): string {
    const header = this.headers?.[index];
    return header === undefined ? `#${index + 1}` : quoteValue(header);
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
  if (batch.length) yield batch;
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
