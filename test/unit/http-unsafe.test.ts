import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectorError } from '../../src/airbyte/errors';
import { MemoryLogger } from '../../src/airbyte/logger';
import { HttpClient } from '../../src/http/client';
import { urlPolicyFor } from '../../src/http/urls';
import { scaledClock } from '../../src/util/clock';
import { reset, ScriptedServer, status } from '../support/scripted-server';

/** A request that starts something at the vendor (an export holding the account's slot). */
describe('HttpClient: a request unsafe to repeat', () => {
  const api = new ScriptedServer();
  before(() => api.start());
  after(() => api.close());
  const client = () =>
    new HttpClient(new MemoryLogger(), {
      clock: scaledClock(0.01),
      urlPolicy: urlPolicyFor(api.url),
      retry: { baseDelayMs: 100 },
    });
  const post = (unsafeToRepeat: boolean) =>
    client().request({ method: 'POST', url: `${api.url}/export`, what: 'export', unsafeToRepeat });

  it('is not sent again after a connection reset: the vendor may have received it', async () => {
    api.reset(reset, status(200));
    await assert.rejects(
      post(true),
      (e: unknown) =>
        e instanceof ConnectorError &&
        e.failureType === 'transient_error' &&
        /It is not sent again, since the vendor may have received it/.test(e.message),
    );
    assert.equal(api.seen.length, 1);
  });
  it('is sent again after an answer that says it was not done (5xx, 429)', async () => {
    api.reset(status(503), status(429), status(200));
    const res = await post(true);
    assert.equal(res.status, 200);
    assert.equal(api.seen.length, 3);
  });
  it('an ordinary request is retried after a reset', async () => {
    api.reset(reset, status(200));
    assert.equal((await post(false)).status, 200);
    assert.equal(api.seen.length, 2);
  });
});
