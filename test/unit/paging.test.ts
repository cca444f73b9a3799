import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectorError } from '../../src/airbyte/errors';
import { PageGuard } from '../../src/http/paging';

const systemError = (re: RegExp) => (err: unknown) =>
  err instanceof ConnectorError && err.failureType === 'system_error' && re.test(err.message);

describe('PageGuard', () => {
  it('follows new tokens and stops without one', () => {
    const g = new PageGuard('walk');
    assert.equal(g.next('a', 10), true);
    assert.equal(g.next('b', 10), true);
    assert.equal(g.next(undefined, 3), false);
  });
  it('fails on a token it has already seen', () => {
    const g = new PageGuard('Pushwoosh getMessageLog');
    g.next('a', 5);
    g.next('b', 5);
    assert.throws(() => g.next('a', 5), systemError(/already given \(page 3\)/));
  });
  it('fails on an empty page that still gives a token', () => {
    assert.throws(() => new PageGuard('walk').next('a', 0), systemError(/empty page/));
  });
  it('fails past the page cap', () => {
    const g = new PageGuard('walk', 3);
    g.next('a', 1);
    g.next('b', 1);
    assert.throws(() => g.next('c', 1), systemError(/more than 3 pages/));
  });
});
