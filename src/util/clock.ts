/**
 * The connector's one clock. Every wait (retry backoff, Retry-After, export polling, rate
 * limiting) sleeps through it, and every duration that is compared with such a wait is measured
 * with its timers, so a test can run the real schedules faster without any module compensating.
 * Wall time (`now`) is never scaled: dates and windows stay true.
 */
export interface Clock {
  /** Wall time, ms since the epoch. */
  now(): number;
  /** Waits `ms` of connector time; resolves early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** A stopwatch started now: it reads elapsed connector time, in the units `sleep` takes. */
  timer(): () => number;
}

/**
 * A clock whose waits take `scale` of their real length (0 < scale <= 1). 0.01 makes a 2 s poll
 * wait 20 ms, and a stopwatch then reads 2 s for those 20 ms.
 */
export function scaledClock(scale = 1): Clock {
  const s = Number.isFinite(scale) && scale > 0 && scale <= 1 ? scale : 1;
  return {
    now: () => Date.now(),
    sleep(ms, signal) {
      const wait = Math.max(0, Math.round(ms * s));
      return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        if (wait === 0) return void setImmediate(resolve);
        const done = () => {
          clearTimeout(t);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, wait);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    timer() {
      const start = performance.now();
      return () => (performance.now() - start) / s;
    },
  };
}

/**
 * The clock of a real run. SOURCE_PDM_TIME_SCALE (tests, the demo's fast mode) shortens every
 * wait; it is read here and nowhere else.
 */
export function systemClock(env: NodeJS.ProcessEnv = process.env): Clock {
  const raw = env.SOURCE_PDM_TIME_SCALE;
  return scaledClock(raw ? Number(raw) : 1);
}
