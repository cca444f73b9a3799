import { configError } from '../airbyte/errors';
import { kindOf } from '../airbyte/redact';
import type { JsonObject } from '../airbyte/protocol';
import { isObject } from '../util/json';
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

/** `YYYY-MM-DDThh:mm[:ss[.fff]]` and an optional zone: `Z` or an offset. */
const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

export const TIME_CURSOR: CursorKind = {
  expected: 'an ISO 8601 time',
  // A time without a zone is read as UTC, as every time this connector writes: Date.parse alone
  // would read it in the machine's zone. Date.parse also rolls Feb 30 over; the parts are checked.
  normalize: (v) => {
    const m = typeof v === 'string' ? ISO_TIME.exec(v) : null;
    if (!m || !isValidDay(m[1]) || +m[2] > 23 || +m[3] > 59 || +(m[4] ?? 0) > 59) return undefined;
    const t = Date.parse(m[5] ? m[0] : `${m[0]}Z`);
    return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
  },
};

/**
 * A time kept to the microsecond, as OneSignal orders its messages (its `next_time_offset` token
 * reads `2025-02-19T19:16:49.568951Z#…`): canonical with six fraction digits, so that the text
 * compares in time order and a listing "strictly after" it does not list that message again.
 */
export const MICROS_TIME_CURSOR: CursorKind = {
  expected: 'an ISO 8601 time',
  normalize: (v) => (typeof v === 'string' ? microsIso(v) : undefined),
};

const MICROS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/** `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), or undefined when it is no ISO time. */
export function microsIso(t: string): string | undefined {
  const m = MICROS_RE.exec(t);
  if (!m) return undefined;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  const ms = Date.parse(`${m[1]}${zone}`);
  if (!Number.isFinite(ms)) return undefined;
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/**
 * The shape of a stream's state: one cursor `{ <field>: value }`, or one per partition under a
 * group, `{ <group>: { <partition>: { <field>: value } } }` (per channel, per app).
 */
export interface StateLayout {
  field: string;
  kind: CursorKind;
  partitions?: { group: string; label: string };
  /**
   * Keys a partition may keep beside its cursor, each a JSON object (e.g. OneSignal's export in
   * flight, so that a later sync can pick it up). A partition may hold notes and no cursor yet.
   */
  notes?: string[];
  /**
   * Keys beside the partitions group, each a JSON object the stream alone reads (e.g. OneSignal's
   * exports in flight per account: the account, not one app, holds the export slot).
   */
  shared?: string[];
}

const stateError = (stream: string, what: string) =>
  configError(
    `The saved state of stream ${stream} ${what}. Reset the stream's state or correct it.`,
  );

/** Validates a saved state against its layout (`{}` means none); returns it canonical. */
export function parseState(layout: StateLayout, raw: unknown, stream: string): JsonObject {
  if (!isObject(raw)) throw stateError(stream, `must be an object, not ${kindOf(raw)}`);
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
  const shared: JsonObject = {};
  for (const key of layout.shared ?? []) {
    if (raw[key] === undefined) continue;
    if (!isObject(raw[key])) throw stateError(stream, `has "${key}" that is not an object`);
    shared[key] = raw[key];
  }
  const group = raw[partitions.group];
  if (group === undefined) return shared;
  if (!isObject(group)) throw stateError(stream, `has "${partitions.group}" that is not an object`);
  const out: Record<string, JsonObject> = {};
  for (const [id, entry] of Object.entries(group)) {
    const v = isObject(entry) ? entry[field] : undefined;
    const notes: JsonObject = {};
    for (const key of layout.notes ?? []) {
      const note = isObject(entry) ? entry[key] : undefined;
      if (note === undefined) continue;
      if (!isObject(note))
        throw stateError(stream, `has ${partitions.label} ${id} with ${key} that is not an object`);
      notes[key] = note;
    }
    if (v === undefined && Object.keys(notes).length) {
      out[id] = notes;
      continue;
    }
    const value = kind.normalize(v);
    if (value === undefined) {
      throw stateError(
        stream,
        `has ${partitions.label} ${id} with ${field} ${JSON.stringify(v)}, which is not ${kind.expected}`,
      );
    }
    out[id] = { [field]: value, ...notes };
  }
  return { [partitions.group]: out, ...shared };
}

/**
 * The state of one stream during a read: it hands out each partition's saved cursor and builds
 * the next state as cursors advance. A cursor never moves back (lookback re-reads old days), and
 * partitions not read in this sync keep their saved cursors.
 */
export class StreamState {
  private readonly single: Record<string, string> = {};
  private readonly byPartition: Record<string, JsonObject> = {};
  private readonly shared: Record<string, JsonObject> = {};
  /** Counts note changes, so a reader can tell whether one is not checkpointed yet. */
  version = 0;
  private wake: () => void = () => {};
  private nextChange = this.arm();

  constructor(
    private readonly layout: StateLayout,
    incoming: JsonObject | undefined,
  ) {
    const group = layout.partitions?.group;
    if (!incoming) return;
    for (const key of layout.shared ?? [])
      if (incoming[key] !== undefined)
        this.shared[key] = structuredClone(incoming[key] as JsonObject);
    if (group) {
      for (const [id, entry] of Object.entries((incoming[group] ?? {}) as JsonObject))
        this.byPartition[id] = structuredClone(entry as JsonObject);
    } else if (typeof incoming[layout.field] === 'string') {
      this.single[layout.field] = incoming[layout.field] as string;
    }
  }

  /** The saved cursor of a partition (`undefined` for a stream without partitions). */
  cursor(partition?: string): string | undefined {
    const entry = partition === undefined ? this.single : this.byPartition[partition];
    const v = entry?.[this.layout.field];
    return typeof v === 'string' ? v : undefined;
  }

  /** Moves a partition's cursor up to `value` (never back) and returns the whole new state. */
  advance(partition: string | undefined, value: string): JsonObject {
    const saved = this.cursor(partition);
    const next = saved !== undefined && saved > value ? saved : value;
    if (partition === undefined) this.single[this.layout.field] = next;
    else
      this.byPartition[partition] = { ...this.byPartition[partition], [this.layout.field]: next };
    return this.snapshot();
  }

  /** A note a partition keeps beside its cursor (see StateLayout.notes). */
  note(partition: string, key: string): JsonObject | undefined {
    return this.byPartition[partition]?.[key] as JsonObject | undefined;
  }

  /** Sets (or, with undefined, clears) a note; the stream checkpoints it at its next chance. */
  setNote(partition: string, key: string, value: JsonObject | undefined): void {
    const entry = { ...this.byPartition[partition] };
    if (value === undefined) delete entry[key];
    else entry[key] = structuredClone(value);
    this.byPartition[partition] = entry;
    this.changedNow();
  }

  /** A shared key (see StateLayout.shared). */
  sharedValue(key: string): JsonObject | undefined {
    return this.shared[key];
  }

  /** Sets (or clears) a shared key; checkpointed like a note. */
  setShared(key: string, value: JsonObject | undefined): void {
    if (value === undefined) delete this.shared[key];
    else this.shared[key] = structuredClone(value);
    this.changedNow();
  }

  private changedNow(): void {
    this.version++;
    this.wake();
    this.nextChange = this.arm();
  }

  /** Resolves at the next `setNote`. */
  changed(): Promise<void> {
    return this.nextChange;
  }

  snapshot(): JsonObject {
    const group = this.layout.partitions?.group;
    if (!group) return { ...this.single };
    return { [group]: structuredClone(this.byPartition), ...structuredClone(this.shared) };
  }

  private arm(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}
