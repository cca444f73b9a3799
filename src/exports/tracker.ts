/**
 * Caps how many exports run at once (OneSignal allows one per account). A slot is held from the
 * export request until its file is downloaded, not while it is parsed, so parsing one file can
 * overlap the generation of the next.
 */
export class JobTracker {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.running < this.limit) this.running++;
    // A released slot is handed straight to the next waiter, so no newcomer can overtake it.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }

  get active(): number {
    return this.running;
  }
}
