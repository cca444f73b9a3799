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
  // A 5xx may come from a gateway after the vendor acted (OneSignal started the export).
  for (const code of [500, 502, 503, 504]) {
    it(`is not sent again after HTTP ${code}: the answer goes back to the caller`, async () => {
      api.reset(status(code), status(200));
      const res = await post(true);
      assert.equal(res.status, code);
      assert.equal(api.seen.length, 1);
    });
  }
  it('is sent again after a 429 (refused, so not done)', async () => {
    api.reset(status(429), status(200));
    const res = await post(true);
    assert.equal(res.status, 200);
    assert.equal(api.seen.length, 2);
  });
  it('an ordinary request is retried after a reset', async () => {
    api.reset(reset, status(200));
    assert.equal((await post(false)).status, 200);
    assert.equal(api.seen.length, 2);
  });
});
