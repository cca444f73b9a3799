import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobTracker } from '../../src/exports/tracker';

describe('JobTracker', () => {
  it('caps running jobs and hands a released slot to the oldest waiter', async () => {
    const tracker = new JobTracker(2);
    const order: string[] = [];
    const a = await tracker.acquire();
    const b = await tracker.acquire();
    const c = tracker.acquire().then((release) => (order.push('c'), release));
    const d = tracker.acquire().then((release) => (order.push('d'), release));
    await new Promise((r) => setImmediate(r));
    assert.equal(order.length, 0, 'no third job while two run');
    assert.equal(tracker.active, 2);
    a();
    a(); // a second release of the same slot is ignored
    const releaseC = await c;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['c']);
    // A newcomer cannot overtake d for the next slot.
    const e = tracker.acquire().then((release) => (order.push('e'), release));
    b();
    const releaseD = await d;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['c', 'd']);
    releaseC();
    (await e)();
    releaseD();
    assert.equal(tracker.active, 0);
  });
});
