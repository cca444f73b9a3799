import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { records, stateFileOf, states } from '../../emulator/harness';
import type { OneSignalAccountFixture } from '../../emulator/onesignal';
import { Emulator } from '../../emulator/server';
import { appKey } from '../../src/providers/onesignal/messages';
import { ConnectorSession, errorsOf, protocolProblems, schemaProblems } from '../support/e2e';
import { type OneSignalSetup, pushMessagesOf, startOneSignal } from '../support/onesignal';

const STREAM = 'onesignal_messages';
const EVENTS = 'onesignal_message_events';

describe('onesignal_messages end to end', () => {
  let emu: Emulator;
  let account: OneSignalAccountFixture;
  const session = new ConnectorSession();
  let config: Record<string, unknown>;
  let catalog: unknown;
  let discovered: { streams: { name: string; json_schema: object }[] };

  let setup: OneSignalSetup;
  before(async () => {
    setup = await startOneSignal(session, STREAM, 0);
    ({ emu, account, config, discovered, catalog } = setup);
  });
  beforeEach(() => emu.reset());
  after(() => setup.close());

  it('is discovered with its key and cursor', () => {
    const s = discovered.streams.find((x) => x.name === STREAM) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(s.source_defined_primary_key, [['app_id'], ['message_id']]);
    assert.deepEqual(s.default_cursor_field, ['message_sent_at']);
    assert.ok(discovered.streams.some((x) => x.name === EVENTS));
  });

  let full: Awaited<ReturnType<ConnectorSession['run']>>;
  it('full read: every push message of every app, as listed, with no export at all', async () => {
    full = await session.run('read', { config, catalog });
    assert.equal(full.code, 0, JSON.stringify(errorsOf(full)));
    assert.deepEqual(protocolProblems(full), []);
    assert.deepEqual(schemaProblems(discovered, full), []);
    const got = records(full, STREAM);
    const want = account.apps.flatMap((a) => pushMessagesOf(a).map((m) => [a.appId, m.id]));
    assert.deepEqual(
      got.map((r) => [r.app_id, r.message_id]),
      want,
    );
    assert.equal(emu.requests.filter((r) => r.route === 'onesignal.export').length, 0);
    const first = got[0] as Record<string, unknown>;
    assert.equal(typeof (first.headings as Record<string, string>).en, 'string');
    assert.equal(typeof (first.contents as Record<string, string>).en, 'string');
    assert.ok(Array.isArray(first.included_segments));
    assert.deepEqual(Object.keys(first.platform_delivery_stats as object).sort(), [
      'android',
      'ios',
    ]);
    assert.equal((first.platforms as Record<string, boolean>).ios, true);
    for (const r of got) {
      assert.equal(typeof r.successful, 'number');
      assert.match(String(r.message_sent_at), /^\d{4}-\d{2}-\d{2}T/);
    }
  });

  it('the cursor stops before a message still being sent, whose counts the next sync refreshes', async () => {
    const inProgress = pushMessagesOf(account.apps[0]).find((m) => m.completedAt === null)!;
    assert.ok(inProgress, 'the fixture has a message still being delivered');
    const last = states(full, STREAM).at(-1)!.state.stream.stream_state.apps;
    const cursor0 = Date.parse(last[appKey(account.apps[0].appId)].message_sent_at) / 1000;
    assert.ok(cursor0 < inProgress.sendAfter);
    // Incremental from there (lookback 0): the unfinished message and those after it come again.
    const r = await session.run('read', { config, catalog, state: stateFileOf(full) });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    const again = records(r, STREAM).filter((x) => x.app_id === account.apps[0].appId);
    assert.deepEqual(
      again.map((x) => x.message_id),
      pushMessagesOf(account.apps[0], cursor0).map((m) => m.id),
    );
    assert.ok(again.some((x) => x.message_id === inProgress.id));
    // The other app was complete: nothing of it is read again.
    const other = Date.parse(last[appKey(account.apps[1].appId)].message_sent_at) / 1000;
    assert.deepEqual(
      records(r, STREAM)
        .filter((x) => x.app_id === account.apps[1].appId)
        .map((x) => x.message_id),
      pushMessagesOf(account.apps[1], other).map((m) => m.id),
    );
  });
});
