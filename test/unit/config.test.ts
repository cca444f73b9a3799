import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { connectorConfig } from '../../emulator/fixtures';
import { ConnectorError } from '../../src/airbyte/errors';
import { MIN_REDACTED_LENGTH, secretsOf } from '../../src/airbyte/redact';
import { loadSpec } from '../../src/config';
import { parseConfig } from '../../src/source';
import type { JsonObject } from '../../src/airbyte/protocol';
import Ajv from 'ajv';
import { problemsOf } from '../support/config';
import { readRepoFile, repoPath } from '../support/repo';

const base = (api_url?: string) => ({
  apns: {
    team_id: 'ABCDE12345',
    bundle_id: 'com.example.app',
    delivery_metrics_token: 'token-12345678',
    api_url,
  },
});

describe('the spec and the config parser agree', () => {
  // The spec's schema as a form or CAT applies it: patterns, without ajv's format checks.
  const ajv = new Ajv({ strict: false, validateFormats: false });
  const fields = loadSpec().connectionSpecification.properties as Record<string, JsonObject>;
  const specTakes = (schema: JsonObject, v: string) => ajv.validate(schema, v);
  const parserTakes = (raw: unknown) => {
    try {
      parseConfig(raw);
      return true;
    } catch (e) {
      assert.ok(e instanceof ConnectorError, String(e));
      return false;
    }
  };
  it('on start_date: a real calendar date, leap days included', () => {
    const good = ['2026-10-26', '2024-02-29', '2000-02-29', '2026-01-31', '2026-04-30'];
    const bad = ['2026-13-45', '2026-02-29', '1900-02-29', '2026-04-31', '2026-00-10', '2026-1-05']
      .concat(['26-10-26', '2026-10-26T00:00:00Z', ''])
      .map((v) => [v, false] as const);
    for (const [v, ok] of [...good.map((v) => [v, true] as const), ...bad]) {
      assert.equal(specTakes(fields.start_date, v), ok, `spec, ${JSON.stringify(v)}`);
      assert.equal(parserTakes({ ...base(), start_date: v }), ok, `parser, ${JSON.stringify(v)}`);
    }
  });
  it('on api_url: https, or http to a loopback host as written; empty means the default', () => {
    const good = [
      'https://proxy.example.com/',
      'https://api.onesignal.com',
      'HTTPS://API.EXAMPLE.COM/v1',
    ]
      .concat([
        'https://proxy.example.com:8443/base?x=1',
        'http://localhost:8080',
        'http://LOCALHOST',
      ])
      .concat(['http://127.0.0.2:9', 'http://[::1]:7/x', '']);
    const bad = [
      'http://example.com',
      'http://10.0.0.1',
      'ftp://localhost',
      'not a url',
      'https://',
    ]
      .concat([
        'https:example.com',
        'http://127.1',
        'http://localhost.example.com',
        'http://u@localhost',
      ])
      .concat(['http://127.0.0.1.example.com', 'https://exa mple.com', ' https://example.com']);
    const cases = [...good.map((v) => [v, true] as const), ...bad.map((v) => [v, false] as const)];
    for (const provider of ['apns', 'onesignal', 'pushwoosh']) {
      const schema = (fields[provider].properties as Record<string, JsonObject>).api_url;
      for (const [v, ok] of cases)
        assert.equal(specTakes(schema, v), ok, `spec ${provider}.api_url, ${JSON.stringify(v)}`);
    }
    for (const [v, ok] of cases)
      assert.equal(parserTakes(base(v)), ok, `parser, ${JSON.stringify(v)}`);
  });
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

const TOKEN = 'pw-secret-Zr2WmB7yHcN4sEd8';
const KEY = 'os-secret-Pts0svCXWL2Ku3iZ';
const APP_ID = '026fdc09-6dd8-4fef-ab8b-eac3ec32b86d';

describe('parseConfig never echoes a secret', () => {
  it('says the kind of an object or a list instead of printing it', () => {
    const msg = problemsOf({
      onesignal: { apps: { first: { app_id: APP_ID, api_key: KEY } } },
      pushwoosh: [{ api_token: TOKEN, application_code: 'C90C0-0E786' }],
    });
    assert.match(msg, /onesignal\.apps must be a list, got an object/);
    assert.match(msg, /pushwoosh must be an object, got a list/);
    for (const secret of [TOKEN, KEY, APP_ID]) assert.equal(msg.includes(secret), false, secret);
  });
  it('prints no value under a secret field, whatever its shape', () => {
    const msg = problemsOf({
      apns: {
        team_id: 'ABCDE12345',
        bundle_id: 'com.example.app',
        delivery_metrics_token: { value: TOKEN },
        broadcast_app_token: [TOKEN],
        broadcast_channel_token: 12345678901,
        api_url: { token: KEY },
      },
      onesignal: { apps: [{ app_id: 'not-a-uuid-but-secret', api_key: KEY }] },
    });
    assert.match(msg, /apns\.delivery_metrics_token must be a string, got an object/);
    assert.match(msg, /apns\.broadcast_app_token must be a string, got a list/);
    assert.match(msg, /apns\.broadcast_channel_token must be a string, got a number/);
    assert.match(msg, /apns\.api_url must be a string, got an object/);
    assert.match(msg, /onesignal\.apps\[0\]\.app_id must be UUID \(got a string\)/);
    for (const secret of [TOKEN, KEY, '12345678901', 'not-a-uuid-but-secret'])
      assert.equal(msg.includes(secret), false, secret);
  });
  it('still shows a wrong scalar of an ordinary field', () => {
    const msg = problemsOf({ lookback_days: '45', apns: { team_id: 'abc', bundle_id: 'com.x.y' } });
    assert.match(msg, /lookback_days must be an integer, got "45"/);
    assert.match(msg, /apns\.team_id must be 10 capital letters or digits \(got "abc"\)/);
  });
  it('rejects a secret shorter than the minimum, and then shows no value at all', () => {
    const short = 'x9Q';
    const msg = problemsOf({
      pushwoosh: {
        api_token: short,
        application_code: `${short}-bad`,
        api_url: `http://${short}.example.com`,
      },
    });
    assert.match(msg, /pushwoosh\.api_token is too short to be valid/);
    assert.match(msg, /pushwoosh\.application_code must be XXXXX-XXXXX \(got a string\)/);
    assert.match(msg, /pushwoosh\.api_url must use https:\/\/ .* \(got a string\)/);
    assert.equal(msg.includes(short), false);
    // 4..7 characters: redactable, but still below the spec's minimum.
    assert.match(
      problemsOf({ pushwoosh: { api_token: 'abcdefg', application_code: 'C90C0-0E786' } }),
      /pushwoosh\.api_token is too short to be valid/,
    );
  });
});

describe('secret fields and their fixtures', () => {
  const schema = loadSpec().connectionSpecification;
  const fields: { path: string; minLength?: number }[] = [];
  const walk = (s: Record<string, unknown>, path: string): void => {
    if (s.airbyte_secret === true) fields.push({ path, minLength: s.minLength as number });
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, object>))
      walk(v as Record<string, unknown>, path ? `${path}.${k}` : k);
    if (s.items) walk(s.items as Record<string, unknown>, `${path}[]`);
  };
  walk(schema, '');
  it('every secret field has a minLength the redactor covers', () => {
    assert.equal(fields.length, 9);
    for (const f of fields) {
      assert.ok((f.minLength ?? 0) >= 8, `${f.path} has minLength ${f.minLength}`);
      assert.ok((f.minLength ?? 0) >= MIN_REDACTED_LENGTH, f.path);
    }
  });
  it('the emulator credentials and the sample configs pass it', () => {
    parseConfig(connectorConfig('http://127.0.0.1:9'));
    for (const name of readdirSync(repoPath('test_files'))) {
      if (!/^sample_config.*\.json$/.test(name)) continue;
      const raw = JSON.parse(readRepoFile('test_files', name)) as unknown;
      for (const s of secretsOf(schema, raw)) assert.ok(s.length >= 8, `${name}: a short secret`);
      parseConfig(raw);
    }
    const invalid = JSON.parse(readRepoFile('test_files', 'invalid_config.json')) as unknown;
    for (const s of secretsOf(schema, invalid)) assert.ok(s.length >= 8);
  });
});
