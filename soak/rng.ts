/**
 * A small seeded generator (mulberry32). The soak draws a whole plan from a seed before anything
 * runs, so that a seed names one plan exactly; what it cannot fix is the timing of the real
 * processes, which is why stops trigger on what the platform sees (the n-th record, state or
 * export request), not on a clock.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)];
  }

  /** An entry of `table`, each as likely as its weight. */
  weighted<T extends { weight: number }>(table: readonly T[]): T {
    let r = this.next() * table.reduce((s, e) => s + e.weight, 0);
    for (const e of table) {
      r -= e.weight;
      if (r < 0) return e;
    }
    return table[table.length - 1];
  }

  /** A UUID-shaped id drawn from this generator. */
  uuid(): string {
    const hex = (n: number) =>
      Array.from({ length: n }, () => this.int(0, 15).toString(16)).join('');
    return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  }
}
