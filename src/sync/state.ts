import { configError } from '../airbyte/errors';
import type { JsonObject } from '../airbyte/protocol';
import { isValidDay } from '../util/time';

/** A kind of cursor value: its canonical text compares in time order. */
export interface CursorKind {
  /** Words for a state error: "a date written YYYY-MM-DD". */
  expected: string;
  /** The canonical value, or undefined when `v` is not one. */
  normalize(v: unknown): string | undefined;
}

export const DAY_CURSOR: CursorKind = {
  expected: 'a date written YYYY-MM-DD',
  normalize: (v) => (typeof v === 'string' && isValidDay(v) ? v : undefined),
};

export const TIME_CURSOR: CursorKind = {
  expected: 'an ISO 8601 time',
  normalize: (v) =>
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && Number.isFinite(Date.parse(v))
      ? new Date(Date.parse(v)).toISOString()
      : undefined,
};

/**
 * The shape of a stream's state: one cursor `{ <field>: value }`, or one per partition under a
 * group, `{ <group>: { <partition>: { <field>: value } } }` (per channel, per app).
 */
export interface StateLayout {
  field: string;
  kind: CursorKind;
  partitions?: { group: string; label: string };
}

const isObject = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

const stateError = (stream: string, what: string) =>
  configError(
    `The saved state of stream ${stream} ${what}. Reset the stream's state or correct it.`,
  );

/** Validates a saved state against its layout (`{}` means none); returns it canonical. */
export function parseState(layout: StateLayout, raw: unknown, stream: string): JsonObject {
  if (!isObject(raw)) throw stateError(stream, `must be an object, not ${JSON.stringify(raw)}`);
  const { field, kind, partitions } = layout;
  if (!partitions) {
    if (raw[field] === undefined) return {};
    const value = kind.normalize(raw[field]);
    if (value === undefined)
      throw stateError(
        stream,
        `has ${field} ${JSON.stringify(raw[field])}, which is not ${kind.expected}`,
      );
    return { [field]: value };
  }
  const group = raw[partitions.group];
  if (group === undefined) return {};
  if (!isObject(group)) throw stateError(stream, `has "${partitions.group}" that is not an object`);
  const out: Record<string, Record<string, string>> = {};
  for (const [id, entry] of Object.entries(group)) {
    const v = isObject(entry) ? entry[field] : undefined;
    const value = kind.normalize(v);
    if (value === undefined) {
      throw stateError(
        stream,
        `has ${partitions.label} ${id} with ${field} ${JSON.stringify(v)}, which is not ${kind.expected}`,
      );
    }
    out[id] = { [field]: value };
  }
  return { [partitions.group]: out };
}

/**
 * The state of one stream during a read: it hands out each partition's saved cursor and builds
 * the next state as cursors advance. A cursor never moves back (lookback re-reads old days), and
 * partitions not read in this sync keep their saved cursors.
 */
export class StreamState {
  private readonly single: Record<string, string> = {};
  private readonly byPartition: Record<string, Record<string, string>> = {};

  constructor(
    private readonly layout: StateLayout,
    incoming: JsonObject | undefined,
  ) {
    const group = layout.partitions?.group;
    if (!incoming) return;
    if (group) {
      for (const [id, entry] of Object.entries((incoming[group] ?? {}) as JsonObject))
        this.byPartition[id] = { ...(entry as Record<string, string>) };
    } else if (typeof incoming[layout.field] === 'string') {
      this.single[layout.field] = incoming[layout.field] as string;
    }
  }

  /** The saved cursor of a partition (`undefined` for a stream without partitions). */
  cursor(partition?: string): string | undefined {
    const entry = partition === undefined ? this.single : this.byPartition[partition];
    return entry?.[this.layout.field];
  }

  /** Moves a partition's cursor up to `value` (never back) and returns the whole new state. */
  advance(partition: string | undefined, value: string): JsonObject {
    const saved = this.cursor(partition);
    const next = saved !== undefined && saved > value ? saved : value;
    if (partition === undefined) this.single[this.layout.field] = next;
    else this.byPartition[partition] = { [this.layout.field]: next };
    return this.snapshot();
  }

  snapshot(): JsonObject {
    const group = this.layout.partitions?.group;
    if (!group) return { ...this.single };
    const out: Record<string, Record<string, string>> = {};
    for (const [id, entry] of Object.entries(this.byPartition)) out[id] = { ...entry };
    return { [group]: out };
  }
}
