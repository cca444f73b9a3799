import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult } from '../../emulator/harness';
import { ConnectorSession } from '../support/e2e';

/** The end-to-end tests' leak scan must itself be able to fail. */
describe('ConnectorSession.assertNoLeaks', () => {
  const run = (lines: object[], stderr = ''): RunResult => ({
    code: 0,
    stdout: lines.map((l) => JSON.stringify(l)).join('\n'),
    stderr,
    messages: lines as RunResult['messages'],
    badLines: [],
    seconds: 0,
  });
  const session = () => new ConnectorSession();
  const record = {
    type: 'RECORD',
    record: { stream: 's', data: { app_id: 'app-123456' }, emitted_at: 1 },
  };
  const log = (message: string) => ({ type: 'LOG', log: { level: 'INFO', message } });

  it('finds a secret in stdout or stderr', () => {
    const s = session();
    s.outputs.push(run([log('fine')], 'token sekret-abcdef'));
    assert.throws(() => s.assertNoLeaks(['sekret-abcdef']), /secret leaked/);
    s.cleanup();
  });
  it('allows a record-only value in RECORD data, nowhere else', () => {
    const s = session();
    s.outputs.push(run([record, log('ok')]));
    s.assertNoLeaks([], ['app-123456']);
    s.outputs.push(run([log('app app-123456 failed')]));
    assert.throws(() => s.assertNoLeaks([], ['app-123456']), /LOG message/);
    s.cleanup();
  });
});
