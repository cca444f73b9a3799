import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CI_SEEDS, describeFailure, runSeeds } from '../../soak/soak';

// The soak's fixed seeds (`npm run soak -- --ci`). Skipped for now: on 5c51e5b they fail (issue
// 14's bugs 1 and 2, and other contract violations the soak finds); it is turned on once the
// fixes land, by deleting this switch. SOAK_CI=1 runs it today.
const skip =
  process.env.SOAK_CI === '1' ? false : 'fails on the current code (issue 14); SOAK_CI=1 runs it';

describe('soak: the fixed CI seeds', { skip }, () => {
  it('every invariant holds for each seed (a failure names the seed and its replay)', async () => {
    const { results, summary } = await runSeeds(CI_SEEDS, 2);
    const failures = results.filter((r) => r.crash || r.violations.length);
    assert.equal(failures.length, 0, failures.map(describeFailure).join('\n'));
    // Each seed ran its chain: at least a final and a quiet sync.
    assert.ok(summary.syncs >= 2 * CI_SEEDS.length, `${summary.syncs} syncs`);
  });
});
