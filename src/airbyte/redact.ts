/**
 * Removes secret values from text before it leaves the process. A secret can reach a message in
 * many spellings (raw, JSON-escaped, URL-encoded inside a request URL, base64 inside a header
 * dump), so each secret is searched in all of them.
 */
export const REDACTED = '**********';

export class Redactor {
  private readonly needles: string[] = [];

  constructor(secrets: Iterable<string> = []) {
    for (const s of secrets) this.add(s);
  }

  add(secret: string): void {
    // Very short values would redact ordinary words; the spec requires secrets to be longer.
    if (typeof secret !== 'string' || secret.length < 4) return;
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
    return out;
  }
}

/** Collects the values of every `airbyte_secret` property of `config`, following `spec`. */
export function secretsOf(spec: unknown, config: unknown): string[] {
  const out: string[] = [];
  const walk = (schema: unknown, value: unknown): void => {
    if (!schema || typeof schema !== 'object' || value === undefined || value === null) return;
    const s = schema as Record<string, unknown>;
    if (s.airbyte_secret === true && (typeof value === 'string' || typeof value === 'number')) {
      out.push(String(value));
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) walk(s.items, v);
      return;
    }
    if (typeof value === 'object' && s.properties && typeof s.properties === 'object') {
      const props = s.properties as Record<string, unknown>;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(props[k], v);
    }
  };
  walk(spec, config);
  return out;
}
