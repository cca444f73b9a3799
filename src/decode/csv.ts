import { pipeline, Readable, TransformCallback } from 'node:stream';
import { Parser } from 'csv-parse';
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

// csv-parse only bounds a whole record; that bound is what keeps memory flat while a runaway field
// (an unclosed quote, a wrong delimiter) is still being read. The exact per-field check runs on
// every complete record.
const RECORD_BOUND_IN_FIELDS = 16;

const MAX_LISTED_HEADERS = 50;

/** `"Date (UTC)"` and `"DATE(UTC)"` -> `"date(utc)"`; `"External User Id"` -> `"externaluserid"`. */
export function normalizeHeader(header: string): string {
  return header.replace(/[\s_]+/g, '').toLowerCase();
}

/**
 * Parses the CSV bytes of `input` into one fresh `{field: rawString}` object per data row, read
 * as the consumer asks for them (backpressure reaches `input`). Problems with the file are
 * DecodeErrors; errors of `input` come out unchanged. Leaving the loop early destroys `input`.
 */
export function csvRecords(
  input: Readable,
  opts: CsvOptions,
): AsyncIterable<Record<string, string>> {
  const parser = new RecordParser(opts);
  // Failures surface through the iterator (pipeline destroys the parser with them).
  pipeline(input, parser, () => undefined);
  return parser;
}

/**
 * csv-parse yields string arrays; this subclass turns each into the output object in `push`, the
 * moment csv-parse emits it. That is where `info.lines` is exact, and it costs no per-row
 * allocation beyond the row itself (csv-parse's `on_record` hook builds a context object per row
 * and doubles the parsing time).
 */
class RecordParser extends Parser {
  private readonly source: string;
  private readonly columns: CsvColumn[];
  private readonly columnByKey = new Map<string, number>();
  private readonly maxFieldBytes: number;
  /** A field of at most this many UTF-16 units cannot exceed `maxFieldBytes` in UTF-8. */
  private readonly safeFieldLength: number;
  private readonly onUnknownColumn?: (header: string) => void;

  private headers: string[] | null = null;
  private fieldNames: string[] = [];
  private fieldIndexes: number[] = [];
  private width = 0;
  /** Last line of the previous record: ours, csv-parse's, and the empty lines skipped up to it. */
  private lastLine = 0;
  private lastParserLine = 0;
  private lastEmptyLines = 0;

  constructor(opts: CsvOptions) {
    const maxFieldBytes = opts.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
    if (!(Number.isInteger(maxFieldBytes) && maxFieldBytes > 0)) {
      throw new Error(`maxFieldBytes must be a positive integer, got ${maxFieldBytes}`);
    }
    super({
      bom: true,
      delimiter: opts.delimiter ?? ',',
      record_delimiter: ['\r\n', '\n'],
      skip_empty_lines: true,
      // Field counts are checked in push() for a message with our line numbers.
      relax_column_count: true,
      // A stray quote inside an unquoted field is kept as text rather than failing the sync.
      relax_quotes: true,
      max_record_size: maxFieldBytes * RECORD_BOUND_IN_FIELDS,
    });
    this.source = opts.source;
    this.columns = opts.columns;
    this.maxFieldBytes = maxFieldBytes;
    this.safeFieldLength = Math.floor(maxFieldBytes / 3);
    this.onUnknownColumn = opts.onUnknownColumn;
    opts.columns.forEach((column, i) => {
      const key = normalizeHeader(column.header);
      if (this.columnByKey.has(key)) {
        throw new Error(`CSV columns ${JSON.stringify(column.header)} match the same header twice`);
      }
      this.columnByKey.set(key, i);
    });
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(null, encoding);
    if (this.destroyed) return false;
    const fields = chunk as string[];
    const line = this.recordStartLine();
    this.trackLines(fields, line);
    if (this.headers === null) {
      try {
        this.readHeader(fields, line);
      } catch (err) {
        this.destroy(err as Error);
        return false;
      }
      return true;
    }
    if (fields.length !== this.width) {
      this.destroy(
        new DecodeError(
          `${this.source}: line ${line} has ${fields.length} fields but the header has ${this.width}`,
        ),
      );
      return false;
    }
    const safe = this.safeFieldLength;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i].length > safe && this.isTooLong(fields[i])) {
        this.destroy(this.fieldTooLong(i, line, Buffer.byteLength(fields[i])));
        return false;
      }
    }
    const row: Record<string, string> = {};
    const names = this.fieldNames;
    const indexes = this.fieldIndexes;
    for (let k = 0; k < names.length; k++) row[names[k]] = fields[indexes[k]];
    return super.push(row);
  }

  // csv-parse reports through these callbacks; its errors become DecodeErrors here.
  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (err?: Error | null) =>
      err ? callback(this.toDecodeError(err)) : callback(),
    );
  }

  override _flush(callback: TransformCallback): void {
    super._flush((err?: Error | null) => (err ? callback(this.toDecodeError(err)) : callback()));
  }

  /** Where the record being parsed began (csv-parse only knows where it is now). */
  private recordStartLine(): number {
    return this.lastLine + 1 + (this.info.empty_lines - this.lastEmptyLines);
  }

  private trackLines(fields: string[], start: number): void {
    const info = this.info;
    let end = this.lastLine + (info.lines - this.lastParserLine);
    // A record over several lines: csv-parse counts a CRLF inside quotes as two line breaks.
    if (end > start) end -= countCrlf(fields);
    this.lastLine = end;
    this.lastParserLine = info.lines;
    this.lastEmptyLines = info.empty_lines;
  }

  private readHeader(fields: string[], line: number): void {
    const headers = fields.slice();
    // Pushwoosh writes its header as a comment: `//timestamp;tracking_code;...`.
    if (headers.length > 0 && headers[0].startsWith('//')) headers[0] = headers[0].slice(2);
    const at = this.columns.map(() => -1);
    const unknown: string[] = [];
    headers.forEach((header, i) => {
      const key = normalizeHeader(header);
      const c = this.columnByKey.get(key);
      if (c === undefined) {
        if (key !== '') unknown.push(header);
      } else if (at[c] !== -1) {
        throw new DecodeError(
          `${this.source}: line ${line}: the header has column ` +
            `${quoteValue(this.columns[c].header)} twice (${quoteValue(headers[at[c]])} and ${quoteValue(header)})`,
        );
      } else {
        at[c] = i;
      }
    });
    const missing = this.columns.filter((column, c) => column.required && at[c] === -1);
    if (missing.length > 0) {
      const found = headers.slice(0, MAX_LISTED_HEADERS).map(quoteValue).join(', ');
      const more = headers.length > MAX_LISTED_HEADERS ? `, … (${headers.length} in all)` : '';
      throw new DecodeError(
        `${this.source}: missing required column${missing.length > 1 ? 's' : ''} ` +
          `${missing.map((column) => quoteValue(column.header)).join(', ')}; ` +
          `the header (line ${line}) has: ${found || 'no columns'}${more}`,
      );
    }
    this.columns.forEach((column, c) => {
      if (at[c] === -1) return;
      this.fieldNames.push(column.field);
      this.fieldIndexes.push(at[c]);
    });
    this.headers = headers;
    this.width = headers.length;
    if (this.onUnknownColumn) for (const header of unknown) this.onUnknownColumn(header);
  }

  private isTooLong(field: string): boolean {
    return field.length > this.maxFieldBytes || Buffer.byteLength(field) > this.maxFieldBytes;
  }

  private columnName(index: number): string {
    const header = this.headers?.[index];
    return header === undefined ? `#${index + 1}` : quoteValue(header);
  }

  private fieldTooLong(index: number, line: number, bytes: number): DecodeError {
    return new DecodeError(
      `${this.source}: line ${line}: column ${this.columnName(index)} is ${bytes} bytes long, ` +
        `over the limit of ${describeBytes(this.maxFieldBytes)} (maxFieldBytes)`,
    );
  }

  private toDecodeError(err: Error & { code?: unknown; column?: unknown }): Error {
    if (err instanceof DecodeError) return err;
    const line = this.recordStartLine();
    switch (err.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return new DecodeError(
          `${this.source}: the file ends inside a quoted field: the record starting at line ${line} ` +
            'opens a quote that is never closed',
          'system_error',
          err.message,
        );
      case 'CSV_MAX_RECORD_SIZE': {
        const column = typeof err.column === 'number' ? this.columnName(err.column) : 'unknown';
        return new DecodeError(
          `${this.source}: line ${line}: the record grew past ` +
            `${describeBytes(this.maxFieldBytes * RECORD_BOUND_IN_FIELDS)} while reading column ${column}: ` +
            `a field is over the limit of ${describeBytes(this.maxFieldBytes)} (maxFieldBytes), ` +
            'or a quote is never closed',
          'system_error',
          err.message,
        );
      }
      default:
        return new DecodeError(
          `${this.source}: line ${line}: the file is not valid CSV (${err.message})`,
          'system_error',
          err.stack,
        );
    }
  }
}

function countCrlf(fields: string[]): number {
  let n = 0;
  for (const field of fields) {
    for (let i = field.indexOf('\r\n'); i !== -1; i = field.indexOf('\r\n', i + 2)) n++;
  }
  return n;
}
