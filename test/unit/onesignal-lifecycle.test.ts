import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EXPORTS_IN_FLIGHT,
  savedRecords,
  upgradeInFlight,
} from '../../src/providers/onesignal/in-flight';
import { finalWithoutDone, UNFINISHED_BOUND_HOURS } from '../../src/providers/onesignal/messages';
import { MICROS_TIME_CURSOR, parseState, StreamState } from '../../src/sync/state';

describe('OneSignal lifecycle pieces', () => {
  it('the cursor keeps microseconds, canonical, so its text compares in time order', () => {
    const n = MICROS_TIME_CURSOR.normalize;
    assert.equal(n('2025-02-19T19:16:49.568951Z'), '2025-02-19T19:16:49.568951Z');
    assert.equal(n('2025-02-19T19:16:49.568Z'), '2025-02-19T19:16:49.568000Z');
    assert.equal(n('2025-02-19T19:16:49Z'), '2025-02-19T19:16:49.000000Z');
    assert.equal(n('2025-02-19T21:16:49.5+02:00'), '2025-02-19T19:16:49.500000Z');
    assert.equal(n('noon'), undefined);
    assert.ok(n('2025-02-19T19:16:49.568Z')! < n('2025-02-19T19:16:49.568951Z')!);
  });

  it("a 0.2.0 per-app export_in_flight note moves into the account group, the app's cursor stays", () => {
    const note = {
      message_id: 'm1',
      file: 'https://x/{app_id}/f.csv.gz',
      requested_at: '2026-12-01T00:00:00.000Z',
    };
    const raw = {
      apps: {
        app_a: { message_sent_at: '2026-11-30T00:00:00Z', export_in_flight: note },
        app_b: { export_in_flight: { ...note, message_id: 'm2' } },
      },
    };
    const up = upgradeInFlight(raw) as Record<string, unknown>;
    const layout = {
      field: 'message_sent_at',
      kind: MICROS_TIME_CURSOR,
      partitions: { group: 'apps', label: 'app' },
      shared: [EXPORTS_IN_FLIGHT],
    };
    const parsed = parseState(layout, up, 'onesignal_message_events');
    assert.deepEqual(parsed.apps, { app_a: { message_sent_at: '2026-11-30T00:00:00.000000Z' } });
    const { ok, bad } = savedRecords(parsed[EXPORTS_IN_FLIGHT] as never);
    assert.equal(bad, 0);
    assert.deepEqual(
      ok.map((r) => [r.app, r.message_id]),
      [
        ['app_a', 'm1'],
        ['app_b', 'm2'],
      ],
    );
    // The shared group is part of every snapshot, beside the partitions.
    const state = new StreamState(layout, parsed);
    assert.deepEqual(state.snapshot()[EXPORTS_IN_FLIGHT], parsed[EXPORTS_IN_FLIGHT]);
    state.setShared(EXPORTS_IN_FLIGHT, undefined);
    assert.equal(state.snapshot()[EXPORTS_IN_FLIGHT], undefined);
  });

  it('canceled and never-finishing messages are final; one still being delivered is not', () => {
    const now = Date.parse('2026-12-07T00:00:00Z');
    const s = now / 1000;
    const sending = { id: 'a', send_after: s - 3600, completed_at: null, remaining: 5 };
    assert.equal(finalWithoutDone(sending, now), undefined);
    assert.match(finalWithoutDone({ ...sending, canceled: true }, now)!, /was canceled/);
    const old = { ...sending, send_after: s - (UNFINISHED_BOUND_HOURS + 1) * 3600 };
    assert.match(finalWithoutDone(old, now)!, /still unfinished 73 hours/);
    const done = { ...sending, completed_at: s, remaining: 0, canceled: true };
    assert.equal(finalWithoutDone(done, now), undefined, 'done is done');
  });
});
