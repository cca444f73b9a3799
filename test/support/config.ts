import assert from 'node:assert/strict';
import { ConnectorError } from '../../src/airbyte/errors';
import { parseConfig } from '../../src/source';

/** The config_error message parseConfig throws for `raw`. */
export function problemsOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ConnectorError && e.failureType === 'config_error', String(e));
    return e.message;
  }
  assert.fail('the config was accepted');
}
