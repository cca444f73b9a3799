import type { Logger } from '../airbyte/logger';
import { DecodeError } from './errors';

/*
 * Data quality of the rows of a sync. A value that cannot be converted to its field's type is
 * synced as null and marked in the record's meta.changes, so one bad cell does not fail a stream
 * on every sync; a file in which most rows fail is a format change, and an error.
 */

/**
 * A file fails once at least this many of its rows had a value that could not be converted and
 * they are more than half of the rows converted so far (rows skipped unread, e.g. of another
 * application, do not count): a file in which most rows fail is always an error, and one that
 * starts that way fails at once instead of after all of its rows.
 */
export const MIN_FAILED_ROWS = 10;
/** Problems logged one by one per stream and sync; the summary counts them all. */
export const LOGGED_PROBLEMS = 5;

/** One stream's count of nulled values in a sync: the first few are logged, then a summary. */
export class QualityReport {
  private readonly byField = new Map<string, number>();
  private logged = 0;
  private total = 0;

  constructor(
    private readonly stream: string,
    private readonly logger?: Logger,
  ) {}

  /** The tracker of one file (or one unit of pages) of this stream. */
  file(source: string): FileQuality {
    return new FileQuality(source, this);
  }

  /** Values are never quoted: they may be personal data. Row, field and file say where to look. */
  note(source: string, row: number, fields: readonly string[], problems: readonly string[]): void {
    this.total += fields.length;
    for (const f of fields) this.byField.set(f, (this.byField.get(f) ?? 0) + 1);
    if (this.logged >= LOGGED_PROBLEMS || !this.logger) return;
    this.logged++;
    this.logger.warn(
      `${this.stream}: ${source}, data row ${row}: ${problems.join('; ')}; ` +
        `synced as null (field ${fields.join(', ')}), marked in the record's meta.changes.`,
    );
  }

  /** Logged at the end of the stream's sync, when anything was nulled. */
  summary(): void {
    if (this.total === 0 || !this.logger) return;
    const fields = [...this.byField].map(([f, n]) => `${f} ${n}`).join(', ');
    const more = this.total > this.logged ? ` The first ${this.logged} are logged above.` : '';
    this.logger.warn(
      `${this.stream}: ${this.total} value(s) could not be converted and were synced as null, ` +
        `each marked in its record's meta.changes (by field: ${fields}).${more}`,
    );
  }
}

/** Counts one file's rows and failed rows, and fails the file when most of its rows fail. */
export class FileQuality {
  /** Data rows so far (the header excluded), serialized or skipped: the current row's number. */
  rows = 0;
  private skipped = 0;
  private failedRows = 0;
  private firstProblem = '';

  constructor(
    readonly source: string,
    private readonly report?: QualityReport,
  ) {}

  /** A row that was read but not serialized (e.g. another application's), to keep row numbers. */
  skip(): void {
    this.rows++;
    this.skipped++;
  }

  /** The current row had `fields` nulled for `problems`; throws when most rows so far failed. */
  failedRow(fields: readonly string[], problems: readonly string[]): void {
    this.failedRows++;
    if (!this.firstProblem) this.firstProblem = problems[0] ?? '';
    this.report?.note(this.source, this.rows, fields, problems);
    const converted = this.rows - this.skipped;
    if (this.failedRows >= MIN_FAILED_ROWS && this.failedRows * 2 > converted) {
      throw new DecodeError(
        `${this.source}: ${this.failedRows} of the first ${converted} data rows have values that ` +
          `cannot be converted (the first: ${this.firstProblem}). That is most of the file, which ` +
          'means its format changed, not a few bad values: the file is not synced. Please report it.',
      );
    }
  }
}
