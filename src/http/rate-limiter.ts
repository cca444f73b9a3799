import { sleep, timeScale } from '../util/time';

/**
 * Spaces requests at least `intervalMs` apart (OneSignal: 1 request a second per app on its
 * view endpoints), so that the vendor's limit is met before a 429 has to teach it.
 */
export class RateLimiter {
  private next = 0;

  constructor(private readonly intervalMs: number) {}

  async wait(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    // `sleep` scales waits in tests; the spacing is kept in the same scaled time.
    this.next = at + this.intervalMs * timeScale();
    if (at > now) await sleep((at - now) / timeScale());
  }
}
