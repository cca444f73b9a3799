export const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

/** Where a text stops being JSON: 1-based line and column, and what is wrong, in words. */
export interface JsonSyntaxError {
  line: number;
  column: number;
  reason: string;
}

class Stop {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/**
 * A JSON syntax checker that reports the position of the first error, the way JSON.parse reads
 * the text (RFC 8259). JSON.parse's own messages quote the text around the error, which may be a
 * secret; this names the place only. Iterative, so that deep nesting cannot overflow the stack.
 */
class Scanner {
  private i = 0;
  private readonly open: string[] = [];

  constructor(private readonly text: string) {}

  check(): void {
    this.value();
    for (;;) {
      this.space();
      const top = this.open[this.open.length - 1];
      if (!top) break;
      const close = top === '{' ? '}' : ']';
      if (this.text[this.i] === close) {
        this.i++;
        this.open.pop();
      } else if (this.text[this.i] === ',') {
        this.i++;
        if (top === '{') this.key();
        this.value();
      } else {
        this.fail(`expected ',' or '${close}'`);
      }
    }
    if (this.i < this.text.length) this.fail('unexpected text after the JSON value');
  }

  /** One value; an object or a list is opened and its first member read. */
  private value(): void {
    for (;;) {
      this.space();
      const c = this.text[this.i];
      if (c !== '{' && c !== '[') return this.scalar();
      this.i++;
      this.space();
      if (this.text[this.i] === (c === '{' ? '}' : ']')) {
        this.i++;
        return;
      }
      this.open.push(c);
      if (c === '{') this.key();
    }
  }

  private key(): void {
    this.space();
    if (this.text[this.i] !== '"') this.fail('expected a property name in double quotes');
    this.string();
    this.space();
    if (this.text[this.i] !== ':') this.fail("expected ':'");
    this.i++;
  }

  private scalar(): void {
    const c = this.text[this.i];
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.match(NUMBER, 'invalid number');
    this.match(LITERAL, 'unexpected character');
  }

  private string(): void {
    const start = this.i++;
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined) this.fail('unterminated string', start);
      if (c === '"') break;
      if (c === '\\') this.match(ESCAPE, 'invalid escape in a string');
      else if (c < ' ') this.fail('control character in a string');
      else this.i++;
    }
    this.i++;
  }

  private space(): void {
    while (/[ \t\n\r]/.test(this.text[this.i] ?? '')) this.i++;
  }

  private match(re: RegExp, reason: string): void {
    re.lastIndex = this.i;
    const m = re.exec(this.text);
    if (!m) this.fail(reason);
    else this.i += m[0].length;
  }

  private fail(reason: string, at = this.i): never {
    throw new Stop(at, at >= this.text.length ? 'unexpected end of the file' : reason);
  }
}

/** The first syntax error of `text`, or undefined when it is JSON. */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  try {
    new Scanner(text).check();
    return undefined;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    const before = text.slice(0, err.at);
    const line = before.split('\n').length;
    return { line, column: err.at - before.lastIndexOf('\n'), reason: err.reason };
  }
}
