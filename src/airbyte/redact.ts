/**
 * Removes secret values from text before it leaves the process. A secret can reach a message in
 * many spellings (raw, JSON-escaped, URL-encoded inside a request URL, base64 inside a header
 * dump), so each secret is searched in all of them.
 */
export const REDACTED = '**********';

/**
 * Shorter values are not redacted: they would redact ordinary words. The spec's `minLength` of
 * every secret field is at least this, so an accepted secret is always redactable.
 */
export const MIN_REDACTED_LENGTH = 4;

/** The mark a shortened text ends with; what precedes it may be the first part of a secret. */
const CUT = '…';
/** A cut-off secret is redacted from this many characters on (fewer say nothing of it). */
const MIN_CUT_PREFIX = 3;

export class Redactor {
  private readonly needles: string[] = [];

  constructor(secrets: Iterable<string> = []) {
    for (const s of secrets) this.add(s);
  }

  add(secret: string): void {
    if (typeof secret !== 'string' || secret.length < MIN_REDACTED_LENGTH) return;
    const forms = new Set<string>([
      secret,
      JSON.stringify(secret).slice(1, -1),
      JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1),
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%20/g, '+'),
      Buffer.from(secret, 'utf8').toString('base64'),
    ]);
    for (const f of forms) if (!this.needles.includes(f)) this.needles.push(f);
    // Longest first, so that a form containing another is replaced whole.
    this.needles.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.needles.length;
  }

  redact(text: string): string {
    let out = text;
    for (const n of this.needles) {
      if (out.includes(n)) out = out.split(n).join(REDACTED);
    }
    return out.includes(CUT) ? this.redactCutPrefixes(out) : out;
  }

  /** Text shortened before it was redacted can end a piece with a secret's first characters. */
  private redactCutPrefixes(text: string): string {
    const pieces = text.split(CUT);
    for (let i = 0; i < pieces.length - 1; i++) {
      const n = this.longestCutPrefix(pieces[i]);
      if (n > 0) pieces[i] = pieces[i].slice(0, -n) + REDACTED;
    }
    return pieces.join(CUT);
  }

  private longestCutPrefix(piece: string): number {
    let best = 0;
    for (const needle of this.needles) {
      for (
        let n = Math.min(needle.length - 1, piece.length);
        n >= MIN_CUT_PREFIX && n > best;
        n--
      ) {
        if (piece.endsWith(needle.slice(0, n))) best = n;
      }
    }
    return best;
  }
}

/**
 * The process's redactor. The entrypoint registers the config's secrets in it before anything can
 * print them; `clip` and every output of the connector go through it.
 */
export const processRedactor = new Redactor();

/** Shortens text for a message. It redacts first, so that a cut never leaves part of a secret. */
export function clip(text: string, max: number, redactor: Redactor = processRedactor): string {
  const clean = redactor.redact(text);
  return clean.length > max ? `${clean.slice(0, max)}${CUT}` : clean;
}

/** The names of every `airbyte_secret` property anywhere in `spec`. */
export function secretFieldNames(spec: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (schema: unknown): void => {
    if (!schema || typeof schema !== 'object') return;
    const props = (schema as { properties?: unknown }).properties;
    if (props && typeof props === 'object') {
      for (const [name, sub] of Object.entries(props as Record<string, unknown>)) {
        if ((sub as { airbyte_secret?: unknown } | null)?.airbyte_secret === true) names.add(name);
        walk(sub);
      }
    }
    walk((schema as { items?: unknown }).items);
  };
  walk(spec);
  return names;
}

/**
 * Collects every value under a key that `spec` marks `airbyte_secret`, wherever it sits in
 * `config` and whatever the shape around it (a list where an object belongs, an object of apps),
 * so that a config too malformed to validate still has its secrets redacted.
 */
export function secretsOf(spec: unknown, config: unknown): string[] {
  const names = secretFieldNames(spec);
  const out: string[] = [];
  const walk = (value: unknown, secret: boolean): void => {
    if (typeof value === 'string' || typeof value === 'number') {
      if (secret) out.push(String(value));
    } else if (Array.isArray(value)) {
      for (const v of value) walk(v, secret);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, secret || names.has(k));
    }
  };
  walk(config, false);
  return out;
}

/** A value's kind in words: "a list", "an object", "a string", "null"… */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  const t = typeof value;
  return t === 'object' || t === 'undefined' ? `an ${t}` : `a ${t}`;
}

/**
 * What a message may say of a value: a scalar as JSON (shortened, redacted), an object or a list
 * only by its kind, since it may hold secrets under any key.
 */
export function shown(value: unknown, max = 100): string {
  if (value !== null && typeof value === 'object') return kindOf(value);
  return clip(JSON.stringify(value) ?? kindOf(value), max);
}
