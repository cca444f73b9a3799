import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CI_SEEDS, describeFailure, REGRESSION_SEEDS, runSeeds } from '../../soak/soak';

// The soak's fixed seeds (`npm run soak -- --ci`): every vendor state and stop point, and the
// seeds that once found a bug (REGRESSION_SEEDS, named in a failure).
describe('soak: the fixed CI seeds', () => {
  it('every invariant holds for each seed (a failure names the seed and its replay)', async () => {
    const { results, summary } = await runSeeds(CI_SEEDS, 2);
    const failures = results.filter((r) => r.crash || r.violations.length);
    assert.equal(
      failures.length,
      0,
      failures
        .map(
          (r) =>
            `${describeFailure(r)}${r.seed in REGRESSION_SEEDS ? `\n  regression: ${REGRESSION_SEEDS[r.seed]}` : ''}`,
        )
        .join('\n'),
    );
    // Each seed ran its chain: at least a final and a quiet sync.
    assert.ok(summary.syncs >= 2 * CI_SEEDS.length, `${summary.syncs} syncs`);
  });
});
