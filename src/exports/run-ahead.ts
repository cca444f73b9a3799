/** An item's outcome: its value, or what it threw. */
export type Outcome<I, T> = { item: I } & ({ ok: true; value: T } | { ok: false; error: unknown });

/**
 * Runs `start` for the items in order, up to `ahead` items beyond the one being consumed, and
 * yields their outcomes in item order. So the next export is generated (or downloaded) while the
 * consumer parses the current one. Caps on how many run at the vendor are the job tracker's
 * business, not this loop's. When the consumer stops early (a failure, a return), every value
 * started but not yielded is handed to `dispose` once it settles: no spooled file is left behind.
 */
export async function* runAhead<I, T>(
  items: readonly I[],
  start: (item: I) => Promise<T>,
  opts: { ahead: number; dispose?: (value: T) => unknown },
): AsyncGenerator<Outcome<I, T>> {
  const started: Promise<Outcome<I, T>>[] = [];
  const launch = (i: number) => {
    const item = items[i];
    // A start that throws at once fails its own item, like one that rejects.
    started[i] = new Promise<T>((resolve) => resolve(start(item))).then(
      (value) => ({ item, ok: true as const, value }),
      (error: unknown) => ({ item, ok: false as const, error }),
    );
  };
  let next = 0;
  let consumed = 0;
  try {
    for (; consumed < items.length; consumed++) {
      while (next < items.length && next <= consumed + opts.ahead) launch(next++);
      yield await started[consumed];
    }
  } finally {
    // Items yielded are the consumer's to dispose; the ones still in flight are ours.
    for (let i = consumed + 1; i < next; i++) {
      void started[i].then((o) => (o.ok ? opts.dispose?.(o.value) : undefined));
    }
  }
}

/**
 * The units of each account in turn (first of each account, then the second of each, ...), each
 * account's own units in their order: run ahead over this order, every account's export slot is
 * kept busy, and one account's exports never wait behind another's.
 */
export function interleave<U>(units: U[], accountOf: (u: U) => string): U[] {
  const byAccount = new Map<string, U[]>();
  for (const u of units) {
    const list = byAccount.get(accountOf(u)) ?? [];
    list.push(u);
    byAccount.set(accountOf(u), list);
  }
  const queues = [...byAccount.values()];
  const out: U[] = [];
  for (let i = 0; out.length < units.length; i++)
    for (const q of queues) if (i < q.length) out.push(q[i]);
  return out;
}
