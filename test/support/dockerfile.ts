/** One instruction, with its continuation lines joined and comments removed. */
export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line of the instruction's first line. */
  line: number;
}

export interface Stage {
  /** The image, with build args substituted. */
  from: string;
  /** `AS <name>`, if any. */
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: Stage[];
}

/**
 * Parses the subset of the Dockerfile syntax that a connector image uses: comments, `\` line
 * continuations, ARG before FROM, FROM … AS, and the instructions' text. Enough to check the
 * image's facts without a Docker engine.
 */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split(/\r?\n/);
  let pending: { text: string; line: number } | undefined;
  const flush = () => {
    if (!pending) return;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(pending.text.trim());
    if (m) add({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: pending.line });
    pending = undefined;
  };
  const add = (ins: Instruction) => {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      const from = substitute(m[1], globalArgs);
      stages.push({ from, name: m[2], instructions: [] });
      return;
    }
    if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`);
      const [name, value = ''] = splitOnce(ins.args, '=');
      globalArgs.set(name.trim(), unquote(value.trim()));
      return;
    }
    stages[stages.length - 1].instructions.push(ins);
  };
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines (parser directives included) are dropped, also inside a continuation.
    if (trimmed.startsWith('#')) return;
    if (!pending) {
      if (trimmed === '') return;
      pending = { text: '', line: i + 1 };
    }
    if (/\\$/.test(raw.trimEnd())) {
      pending.text += `${raw.trimEnd().slice(0, -1)} `;
    } else {
      pending.text += raw;
      flush();
    }
  });
  flush();
  return { globalArgs, stages };
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

function substitute(s: string, args: Map<string, string>): string {
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b) as string;
    const value = args.get(name);
    if (value === undefined) throw new Error(`unknown build arg ${name}`);
    return value;
  });
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) {
    const inner = s.slice(1, -1);
    return s[0] === '"' ? inner.replace(/\\(["\\$])/g, '$1') : inner;
  }
  return s;
}

/** Splits on unquoted whitespace, keeping quoted parts (and their quotes) together. */
function tokens(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (/\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (quote) throw new Error(`unclosed quote in: ${s}`);
  if (cur) out.push(cur);
  return out;
}

/** `ENV`/`LABEL` arguments: `k=v k2="v 2"`, or the legacy `ENV k v` form. */
export function keyValues(args: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = tokens(args);
  if (parts.length > 0 && !parts[0].includes('=')) {
    const [key, ...rest] = parts;
    out.set(key, unquote(rest.join(' ')));
    return out;
  }
  for (const p of parts) {
    const [key, value] = splitOnce(p, '=');
    if (value === undefined) throw new Error(`expected key=value, got ${p}`);
    out.set(unquote(key), unquote(value));
  }
  return out;
}

/** All ENV (or LABEL) values of a stage, later ones overriding earlier ones. */
export function stageValues(stage: Stage, keyword: 'ENV' | 'LABEL'): Map<string, string> {
  const out = new Map<string, string>();
  for (const ins of stage.instructions)
    if (ins.keyword === keyword) for (const [k, v] of keyValues(ins.args)) out.set(k, v);
  return out;
}

/** The exec form (`["a", "b"]`) of ENTRYPOINT/CMD; the shell form is refused. */
export function execForm(ins: Instruction): string[] {
  if (!ins.args.startsWith('['))
    throw new Error(`line ${ins.line}: ${ins.keyword} is not exec form`);
  const value = JSON.parse(ins.args) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`line ${ins.line}: ${ins.keyword} is not a list of strings`);
  return value as string[];
}

/** The last instruction with this keyword in a stage. */
export function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}
