import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../../emulator/harness';
import { ConnectorSession, errorsOf, protocolProblems } from '../support/e2e';

// Fake but distinctive secrets: none of them, nor either half, may reach any output.
const PW_TOKEN = 'pw-leak-Q8vN3kLm2XcT7bRz';
const OS_KEY = 'os-leak-H4sJ9dWq6YpE1uFa';
const APP_ID = '7d1c2b9e-51aa-4c3e-9f0d-2b6e8a4c1f35';
const APNS_TOKEN = 'apns-leak-Vb5Gt2Nx8MzK3cRw';
const SECRETS = [PW_TOKEN, OS_KEY, APP_ID, APNS_TOKEN];
const HALVES = SECRETS.flatMap((s) => [s.slice(0, s.length / 2), s.slice(s.length / 2)]);

const CATALOG = {
  streams: [
    {
      stream: {
        name: 'pushwoosh_tracking',
        json_schema: {},
        supported_sync_modes: ['full_refresh'],
      },
      sync_mode: 'full_refresh',
      destination_sync_mode: 'overwrite',
    },
  ],
};

const GOOD_CONFIG = {
  pushwoosh: {
    api_token: PW_TOKEN,
    application_code: 'C90C0-0E786',
    api_url: 'http://127.0.0.1:9',
  },
};

/** The message of a failed check, or of the first error TRACE. */
function problem(r: RunResult): string {
  const status = r.messages.find((m) => m.type === 'CONNECTION_STATUS');
  return status ? (status.connectionStatus.message as string) : errorsOf(r)[0].message;
}

describe('secrets are never echoed in config errors (built CLI)', () => {
  const session = new ConnectorSession();

  /** Runs check, discover and read; each must fail as a config error. */
  async function runAll(config: unknown): Promise<string[]> {
    const messages: string[] = [];
    for (const command of ['check', 'discover', 'read']) {
      const files = command === 'read' ? { config, catalog: CATALOG } : { config };
      const r = await session.run(command, files);
      assert.deepEqual(protocolProblems(r), [], command);
      if (command === 'check' && r.messages.some((m) => m.type === 'CONNECTION_STATUS')) {
        assert.equal(r.code, 0, 'check answers a config problem with FAILED');
        assert.equal(r.messages[0].connectionStatus.status, 'FAILED');
      } else {
        assert.equal(r.code, 1, command);
        assert.equal(errorsOf(r)[0].failure_type, 'config_error', command);
      }
      messages.push(problem(r));
    }
    return messages;
  }

  after(() => {
    // Runs last: no output of any run above carries a secret or half of one.
    session.assertNoLeaks([...SECRETS, ...HALVES]);
    session.cleanup();
  });

  it('onesignal.apps as an object and pushwoosh as a list: their kinds, not their content', async () => {
    for (const msg of await runAll({
      onesignal: { apps: { first: { app_id: APP_ID, api_key: OS_KEY } } },
      pushwoosh: [{ api_token: PW_TOKEN, application_code: 'C90C0-0E786' }],
    })) {
      assert.match(msg, /onesignal\.apps must be a list, got an object/);
      assert.match(msg, /pushwoosh must be an object, got a list/);
    }
  });

  it('a secret field holding an object or a list, and a secret under an unexpected key', async () => {
    for (const msg of await runAll({
      apns: {
        team_id: 'ABCDE12345',
        bundle_id: 'com.example.app',
        delivery_metrics_token: { value: APNS_TOKEN },
        broadcast_app_token: [APNS_TOKEN],
        api_url: { api_key: OS_KEY },
      },
      pushwoosh: { api_token: PW_TOKEN, application_code: 'nope' },
    })) {
      assert.match(msg, /apns\.delivery_metrics_token must be a string, got an object/);
      assert.match(msg, /apns\.broadcast_app_token must be a string, got a list/);
      assert.match(msg, /apns\.api_url must be a string, got an object/);
      assert.match(msg, /pushwoosh\.application_code must be XXXXX-XXXXX \(got "nope"\)/);
    }
  });

  it('a JSON syntax error in the config gives file, line and column only', async () => {
    const texts: [string, RegExp][] = [
      [
        `{\n  "pushwoosh": {\n    "api_token": "${PW_TOKEN}" "application_code": "C90C0-0E786"\n  }\n}`,
        /expected ',' or '}' at line 3, column 45 \(".*config\.json"\)\.$/,
      ],
      [`{"pushwoosh":{"api_token":${PW_TOKEN}}}`, /unexpected character at line 1, column 27/],
      [`{"pushwoosh":{"api_token":"${PW_TOKEN}`, /unterminated string at line 1, column 27/],
    ];
    for (const [text, pattern] of texts) {
      for (const msg of await runAll(text)) {
        assert.match(msg, /^The config file is not valid JSON: /);
        assert.match(msg, pattern);
      }
    }
  });

  it('a JSON syntax error in the catalog or the state quotes none of the file', async () => {
    const catalog =
      '{"streams": [{"stream": {"name": "pushwoosh_tracking"}, "sync_mode": bare_word}]}';
    const c = await session.run('read', { config: GOOD_CONFIG, catalog });
    assert.equal(c.code, 1);
    assert.match(
      errorsOf(c)[0].message,
      new RegExp(
        `^The catalog file is not valid JSON: unexpected character at line 1, column ${catalog.indexOf('bare_word') + 1} \\(".*catalog\\.json"\\)\\.$`,
      ),
    );
    const state = '[{"type": "STREAM", "stream": {"stream_state": {"date": 2026-11-01}}}]';
    const s = await session.run('read', { config: GOOD_CONFIG, catalog: CATALOG, state });
    assert.equal(s.code, 1);
    assert.match(
      errorsOf(s)[0].message,
      /^The state file is not valid JSON: expected ',' or '}' at line 1, column 61 \(".*state\.json"\)\.$/,
    );
    for (const r of [c, s]) {
      assert.equal(r.stdout.includes('bare_word') || r.stdout.includes('11-01'), false);
    }
  });

  it('a secret shorter than the minimum is rejected, and printed nowhere', async () => {
    const short = ['x9Q', 'k7Zw'];
    for (const msg of await runAll({
      onesignal: { apps: [{ app_id: APP_ID, api_key: short[1] }] },
      pushwoosh: { api_token: short[0], application_code: `${short[0]}-${short[1]}` },
    })) {
      assert.match(msg, /pushwoosh\.api_token is too short to be valid/);
      assert.match(msg, /onesignal\.apps\[0\]\.api_key is too short to be valid/);
      assert.match(msg, /pushwoosh\.application_code must be XXXXX-XXXXX \(got a string\)/);
    }
    session.assertNoLeaks(short);
  });

  it('a secret in a long ordinary value is redacted before the value is shortened', async () => {
    // The cut falls inside the token: its first characters must not survive the cut.
    const teamId = `${'X'.repeat(95)}${APNS_TOKEN}`;
    for (const msg of await runAll({
      apns: { team_id: teamId, bundle_id: 'com.example.app', delivery_metrics_token: APNS_TOKEN },
    })) {
      assert.match(msg, /apns\.team_id must be 10 capital letters or digits \(got "X{95}\*+…\)/);
    }
  });
});
