import type { Clock } from '../util/clock';

/**
 * Spaces requests at least `intervalMs` apart (OneSignal: 1 request a second per app on its
 * view endpoints), so that the vendor's limit is met before a 429 has to teach it.
 */
export class RateLimiter {
  private readonly elapsed: () => number;
  /** When the next request may go, in the clock's stopwatch time. */
  private next = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Clock,
  ) {
    this.elapsed = clock.timer();
  }

  async wait(): Promise<void> {
    const now = this.elapsed();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await this.clock.sleep(at - now);
  }
}
