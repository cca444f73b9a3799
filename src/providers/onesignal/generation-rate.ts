import type { PollSchedule } from '../../exports/engine';

/** OneSignal generates export files at about 2,000 records a second (documented). */
const DOCUMENTED_RECORDS_PER_SECOND = 2000;

/**
 * How fast OneSignal generates export files: the documented rate until an export shows the real
 * one. It sizes each export's polling schedule.
 */
export class GenerationRate {
  private recordsPerSecond = DOCUMENTED_RECORDS_PER_SECOND;
  private learned = false;

  constructor(private readonly pollMaxMs: number) {}

  expectedMs(rows: number): number {
    return (rows / this.recordsPerSecond) * 1000;
  }

  /** An export of `rows` rows took `generationMs` (connector time) to be ready. */
  learn(rows: number, generationMs: number): void {
    const seconds = generationMs / 1000;
    if (rows >= 1000 && seconds > 0.05) {
      this.recordsPerSecond = Math.min(10_000_000, Math.max(100, rows / seconds));
      this.learned = true;
    }
  }

  /**
   * How to poll a file of `rows` rows. Until an export has shown the real speed, check early and
   * back off (small files are ready at once). Once it is known, sleep through most of the
   * expected time. Either way checks end up at most 2% of the expected time apart, so that
   * little time is lost once the file is ready.
   */
  schedule(rows: number): Partial<PollSchedule> {
    const expectedMs = this.expectedMs(rows);
    const fine = Math.min(this.pollMaxMs, Math.max(20, expectedMs * 0.02));
    if (this.learned) {
      return {
        pollInitialMs: Math.max(20, expectedMs * 0.9),
        pollIntervalMs: fine,
        pollGrowth: 1.2,
        pollMaxMs: Math.max(fine, expectedMs * 0.05),
      };
    }
    return {
      pollInitialMs: Math.min(250, fine),
      pollIntervalMs: Math.min(250, fine),
      pollGrowth: 1.25,
      pollMaxMs: fine,
    };
  }
}
