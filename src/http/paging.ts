import { systemError } from '../airbyte/errors';

/**
 * Guards a paginated walk against a vendor that never ends it: a token seen before, a page with
 * no rows that still hands out a token, or more pages than any real listing has. Each is a
 * system_error that says which, instead of a loop that emits duplicates for ever.
 */
export class PageGuard {
  private readonly seen = new Set<string>();
  private pages = 0;

  constructor(
    private readonly what: string,
    private readonly maxPages = 100_000,
  ) {}

  /** After a page of `rows` rows that gave `token`: true to fetch the page it names. */
  next(token: string | undefined, rows: number): boolean {
    this.pages++;
    if (token === undefined) return false;
    if (this.seen.has(token)) {
      throw systemError(
        `${this.what} gave a pagination token it had already given (page ${this.pages}); stopping instead of reading the same rows again.`,
      );
    }
    if (rows === 0) {
      throw systemError(
        `${this.what} gave an empty page with a pagination token (page ${this.pages}); stopping instead of paging without end.`,
      );
    }
    if (this.pages >= this.maxPages) {
      throw systemError(
        `${this.what} gave more than ${this.maxPages} pages; stopping instead of paging without end.`,
      );
    }
    this.seen.add(token);
    return true;
  }
}
