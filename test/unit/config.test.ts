import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectorError } from '../../src/airbyte/errors';
import { parseConfig } from '../../src/config';

const base = (api_url?: string) => ({
  apns: {
    team_id: 'ABCDE12345',
    bundle_id: 'com.example.app',
    delivery_metrics_token: 'token-12345678',
    api_url,
  },
});

describe('parseConfig', () => {
  it('fills the defaults', () => {
    const c = parseConfig(base());
    assert.equal(c.lookback_days, 3);
    assert.equal(c.apns?.api_url, 'https://api.icloud.apple.com');
    assert.equal(c.export_timeout_minutes, 120);
  });
  it('takes https anywhere and http only on a loopback host (the contract)', () => {
    for (const ok of [
      'https://proxy.example.com/',
      'http://localhost:8080',
      'http://127.0.0.2:9',
      'http://[::1]:7',
    ]) {
      assert.equal(parseConfig(base(ok)).apns?.api_url, ok.replace(/\/+$/, ''), ok);
    }
    for (const bad of ['http://example.com', 'http://10.0.0.1', 'ftp://localhost', 'not a url']) {
      assert.throws(
        () => parseConfig(base(bad)),
        (e: unknown) =>
          e instanceof ConnectorError &&
          e.failureType === 'config_error' &&
          e.message.includes('apns.api_url'),
        bad,
      );
    }
  });
  it('rejects a start_date in the future or not a real date', () => {
    assert.throws(
      () => parseConfig({ ...base(), start_date: '2999-01-01' }),
      /start_date must not be in the future/,
    );
    assert.throws(
      () => parseConfig({ ...base(), start_date: '2026-02-30' }),
      /start_date must be a real date/,
    );
  });
});
