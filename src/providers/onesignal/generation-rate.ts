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
   * How to poll a file of `rows` rows. Until an export has shown the real speed, poll at once and
   * from the floor up, backing off (small files are ready at once). Once it is known, the first
   * check comes at the expected time from the request (in waits of at most the configured
   * maximum); a miss is checked again at the engine's 1 s floor, then 2% of the time apart, so
   * little time is lost once the file is ready. Re-polls never come sooner than the floor.
   */
  schedule(rows: number): Partial<PollSchedule> {
    const expected = this.learned ? this.expectedMs(rows) : 0;
    const first = Math.min(this.pollMaxMs, expected);
    return {
      firstPollMs: first,
      pollInitialMs: Math.min(this.pollMaxMs, Math.max(MIN_REPOLL_MS, expected - first)),
      pollIntervalMs: Math.max(MIN_REPOLL_MS, expected * 0.02),
      pollGrowth: 1.5,
      pollMaxMs: this.pollMaxMs,
    };
  }
}
