import type { JsonObject } from '../airbyte/protocol';
import type { CsvColumn } from './csv';
import { DecodeError } from './errors';
import { FileQuality } from './quality';
import { parseCount, parseDay, parseTimestamp } from './values';

/** A CSV value as the tokenizer gives it: `undefined` when the file lacks the column. */
export type Raw = string | undefined;

/**
 * Turns a raw value into the JSON text of a field's value; a value it cannot convert throws a
 * DecodeError that names the column and what was expected (never the value: it may be personal).
 */
export type JsonConverter = (raw: Raw, column: string) => string;

// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** A JSON string literal; most values need no escaping, and skip JSON.stringify. */
const str = (v: string): string => (NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`);

const nullable =
  (convert: (raw: string, column: string) => string | number | null): JsonConverter =>
  (raw, column) => {
    if (raw === undefined) return 'null';
    const v = convert(raw, column);
    return v === null ? 'null' : typeof v === 'number' ? String(v) : `"${v}"`;
  };

/** The converters the vendors' files need. Each runs once per row and field: keep them lean. */
export const as = {
  /** Text as written. */
  text: ((raw) => (raw === undefined ? 'null' : str(raw))) as JsonConverter,
  /** Text; empty is null. */
  textOrNull: ((raw) => (raw === undefined || raw === '' ? 'null' : str(raw))) as JsonConverter,
  /** Text; empty and `placeholder` (e.g. OneSignal's `-`) are null. */
  textOrNullExcept:
    (placeholder: string): JsonConverter =>
    (raw) =>
      raw === undefined || raw === '' || raw === placeholder ? 'null' : str(raw),
  /** An instant, as ISO 8601 UTC. */
  timestamp: nullable(parseTimestamp),
  /** A whole number >= 0; empty is null. */
  count: nullable(parseCount),
  /** A count where the vendor writes -1 for "held back" (Apple's privacy threshold): null. */
  countOrMinusOne: nullable((raw, column) => parseCount(raw, column, { minusOneIsNull: true })),
  /** A calendar day. */
  day: nullable(parseDay),
};

/** One CSV column and the record field(s) it fills. */
export interface FieldMap {
  header: string;
  required?: boolean;
  /** The record fields it writes, in order. */
  fields: string[];
  /** The JSON text of those fields, keys included: `"count":12`. */
  fragment(raw: Raw): string;
}

/** `"a":null,"b":null`: a FieldMap's fields when its value could not be converted. */
function nulled(m: FieldMap): string {
  return m.fields.map((f) => `${JSON.stringify(f)}:null`).join(',');
}

/** A column that fills one field through a converter. */
export function field(
  name: string,
  header: string,
  convert: JsonConverter,
  opts: { required?: boolean } = {},
): FieldMap {
  const key = `${JSON.stringify(name)}:`;
  return {
    header,
    required: opts.required,
    fields: [name],
    fragment: (raw) => key + convert(raw, header),
  };
}

/**
 * How a vendor's CSV rows become records, declared once: the header each field is read from, and
 * its converter. The CSV columns, the record's fields and (in a test) the stream's schema all come
 * from this one list, so they cannot drift apart.
 */
export class RecordMapping {
  readonly columns: CsvColumn[];

  constructor(private readonly maps: readonly FieldMap[]) {
    this.columns = maps.map((m) => ({
      field: m.fields[0],
      header: m.header,
      required: m.required,
    }));
  }

  /** Every field a record has, beside the constants given to `serializer`. */
  get fields(): string[] {
    return this.maps.flatMap((m) => m.fields);
  }

  /** Where `field`'s raw value sits in a row. */
  index(name: string): number {
    const i = this.maps.findIndex((m) => m.fields.includes(name));
    if (i < 0) throw new Error(`no column fills the field ${name}`);
    return i;
  }

  /**
   * A function from a row (in `columns` order) to its record's text: the data's JSON, `lead`
   * fields first, then the mapped ones, then `tail`. Records are serialized here, not by
   * JSON.stringify: this runs for every row of multi-million-row exports.
   *
   * A value its converter rejects is written `null`, and the text then goes on with the record's
   * `meta` (see `RecordText`); `quality` counts the rows and such cells, logs the first ones and
   * fails the file when most rows fail. Callers that skip a row without serializing it tell
   * `quality` (`skip`), so that rows keep their numbers in the file.
   */
  serializer(
    lead: JsonObject = {},
    tail: JsonObject = {},
    quality: FileQuality = new FileQuality('a file'),
  ): (row: Raw[]) => RecordText {
    const inner = (o: JsonObject) => JSON.stringify(o).slice(1, -1);
    const prefix = `{${inner(lead)}${Object.keys(lead).length ? ',' : ''}`;
    const suffix = `${Object.keys(tail).length ? ',' : ''}${inner(tail)}}`;
    const maps = this.maps;
    const frags = maps.map((m) => m.fragment);
    const n = frags.length;
    /** The row again, field by field: the rare path of a row with a value that does not convert. */
    const slow = (row: Raw[]): RecordText => {
      let s = prefix;
      const changed: string[] = [];
      const problems: string[] = [];
      for (let i = 0; i < n; i++) {
        if (i > 0) s += ',';
        try {
          s += frags[i](row[i]);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          s += nulled(maps[i]);
          changed.push(...maps[i].fields);
          problems.push(err.message);
        }
      }
      quality.failedRow(changed, problems);
      return s + suffix + metaOf(changed);
    };
    return (row) => {
      quality.rows++;
      try {
        let s = prefix + frags[0](row[0]);
        for (let i = 1; i < n; i++) s += ',' + frags[i](row[i]);
        return s + suffix;
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        return slow(row);
      }
    };
  }
}

/**
 * A record as the runtime writes it: its `data` as JSON text, followed, only when a value was
 * changed on the way, by `,"meta":{"changes":[…]}`. That is the RECORD message's members from
 * `data` to `emitted_at`, so the writer splices it in as it is and a clean record costs nothing.
 */
export type RecordText = string;

/** The members that follow a record's data when `fields` were nulled (empty: none). */
export function metaOf(fields: readonly string[]): string {
  if (fields.length === 0) return '';
  const changes = fields.map(
    (f) => `{"field":${JSON.stringify(f)},"change":"NULLED","reason":"SOURCE_SERIALIZATION_ERROR"}`,
  );
  return `,"meta":{"changes":[${changes.join(',')}]}`;
}

/** A record's text split into its data and its meta (for tests and tools; the hot path never parses). */
export function parseRecordText(text: RecordText): { data: JsonObject; meta?: JsonObject } {
  const wrapped = JSON.parse(`{"data":${text}}`) as { data: JsonObject; meta?: JsonObject };
  return wrapped.meta ? { data: wrapped.data, meta: wrapped.meta } : { data: wrapped.data };
}
