import { MIN_REPOLL_MS, type PollSchedule } from '../../exports/engine';

/** OneSignal generates export files at about 2,000 records a second (documented). */
const DOCUMENTED_RECORDS_PER_SECOND = 2000;

/**
 * How fast OneSignal generates export files: the documented rate until an export shows the real
 * one. It sizes each export's polling schedule.
 */
export class GenerationRate {
  private msPerRow = 1000 / DOCUMENTED_RECORDS_PER_SECOND;
  private learned = false;

  constructor(private readonly pollMaxMs: number) {}

  expectedMs(rows: number): number {
    return rows * this.msPerRow;
  }

  /**
   * An export of `rows` rows was first seen ready `readyMs` (connector time) after its request.
   * That bounds the real time from above (it was ready at some point before), so the tightest
   * bound seen is kept: the next export is then polled no earlier than it can be ready.
   */
  learn(rows: number, readyMs: number): void {
    if (rows < 1000 || readyMs < 50) return;
    const perRow = Math.min(10, Math.max(0.0001, readyMs / rows));
    this.msPerRow = this.learned ? Math.min(this.msPerRow, perRow) : perRow;
    this.learned = true;
  }

  /**
   * How to poll a file of `rows` rows. Until an export has shown the real speed, poll from the
   * floor up and back off (small files are ready at once). Once it is known, sleep through the
   * expected time (in waits of at most the configured maximum), then re-poll 2% of it apart, so
   * little time is lost once the file is ready. The engine keeps every wait >= its 1 s floor: the
   * expected time only ever makes waits longer.
   */
  schedule(rows: number): Partial<PollSchedule> {
    const expected = this.learned ? this.expectedMs(rows) : 0;
    return {
      pollInitialMs: Math.min(this.pollMaxMs, Math.max(MIN_REPOLL_MS, expected)),
      pollIntervalMs: Math.max(MIN_REPOLL_MS, expected * 0.02),
      pollGrowth: 1.5,
      pollMaxMs: this.pollMaxMs,
    };
  }
}
