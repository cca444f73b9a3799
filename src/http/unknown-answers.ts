import type { Logger } from '../airbyte/logger';
import { Redactor } from '../airbyte/redact';
import { snippet } from './answer';
import { isObject } from '../util/json';
import { safeUrl } from './urls';

/** How much of an unrecognised answer a warning quotes. */
const QUOTE_CHARS = 300;

/**
 * The vendors' undocumented answers: the first unrecognised one of each kind is logged once per
 * sync, so that a user can report its real shape. Secrets are masked before the quote is cut,
 * so a cut never leaves part of one; signed link queries are masked too.
 */
export class UnknownAnswers {
  private static readonly bySync = new WeakMap<Logger, UnknownAnswers>();
  private readonly seen = new Set<string>();
  private readonly redactor = new Redactor();

  constructor(private readonly logger: Logger) {}

  /** The sync's one instance: every client of a sync logs through the same logger. */
  static of(logger: Logger): UnknownAnswers {
    let answers = UnknownAnswers.bySync.get(logger);
    if (!answers) {
      answers = new UnknownAnswers(logger);
      UnknownAnswers.bySync.set(logger, answers);
    }
    return answers;
  }

  /** Values masked in quotes (the output redacts them too, but only whole). */
  protect(...secrets: string[]): this {
    for (const s of secrets) this.redactor.add(s);
    return this;
  }

  /** `kind` names the call, e.g. "Pushwoosh getResults"; `treatment` says what the sync does. */
  note(kind: string, body: unknown, treatment = 'treating it as not ready yet'): void {
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    this.logger.warn(
      `${kind} gave an answer this connector does not recognise; ${treatment}. Please report it: ${this.quote(body)}`,
    );
  }

  quote(body: unknown): string {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const masked = this.redactor.redact(text).replace(/https?:\/\/[^\s"'<>\\]+/g, safeUrl);
    return snippet(masked, QUOTE_CHARS);
  }
}

/** A field of an answer by any of `names`, compared case-insensitively (vendors' spellings drift). */
export function answerField(obj: unknown, ...names: string[]): unknown {
  if (!isObject(obj)) return undefined;
  for (const name of names) if (obj[name] !== undefined) return obj[name];
  const wanted = names.map((n) => n.toLowerCase());
  for (const name of wanted) {
    const key = Object.keys(obj).find((k) => k.toLowerCase() === name);
    if (key !== undefined && obj[key] !== undefined) return obj[key];
  }
  return undefined;
}

/** An absolute http(s) link, kept as sent; a protocol-relative one takes `base`'s scheme. */
export function httpLink(value: unknown, base: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (!/^(?:https?:)?\/\/[^/\s]/i.test(v)) return undefined;
  const link = v.startsWith('//') ? `${new URL(base).protocol}${v}` : v;
  return URL.canParse(link) ? link : undefined;
}
