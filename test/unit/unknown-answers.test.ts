import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLogger } from '../../src/airbyte/logger';
import { answerField, httpLink, UnknownAnswers } from '../../src/http/unknown-answers';
import {
  normalizeMessageLogRow,
  readResults,
  type ResultsAnswer,
} from '../../src/providers/pushwoosh/answers';

const API = 'https://api.pushwoosh.com';
const FILE = 'https://static.pushwoosh.com/tracking_log_link.zip';

describe('UnknownAnswers', () => {
  it('warns once per kind, with the kind, the treatment and the answer', () => {
    const logger = new MemoryLogger();
    const answers = new UnknownAnswers(logger);
    answers.note('Pushwoosh getResults', { status_code: 202 });
    answers.note('Pushwoosh getResults', { status_code: 0 });
    answers.note('Apple export status', { status: 'QUEUED' }, 'treating it as still running');
    assert.deepEqual(
      logger.lines.map((l) => [l.level, l.message]),
      [
        [
          'WARN',
          'Pushwoosh getResults gave an answer this connector does not recognise; treating it as not ready yet. Please report it: {"status_code":202}',
        ],
        [
          'WARN',
          'Apple export status gave an answer this connector does not recognise; treating it as still running. Please report it: {"status":"QUEUED"}',
        ],
      ],
    );
  });

  it('of(): one instance per logger, i.e. per sync', () => {
    const a = new MemoryLogger();
    const b = new MemoryLogger();
    UnknownAnswers.of(a).note('k', 1);
    UnknownAnswers.of(a).note('k', 2);
    UnknownAnswers.of(b).note('k', 3);
    assert.equal(UnknownAnswers.of(a), UnknownAnswers.of(a));
    assert.equal(a.lines.length, 1);
    assert.equal(b.lines.length, 1);
  });

  it('masks protected secrets before trimming, so no part of one is left at the cut', () => {
    const secret = 'pw-token-Vq3LkT9xZr2WmB7yHcN4sEd8JfUa6GpQ1oKi5tXw';
    const answers = new UnknownAnswers(new MemoryLogger()).protect(secret);
    // The secret straddles character 300, where the quote is cut.
    const body = { pad: 'x'.repeat(280), auth: secret, more: 'y'.repeat(500) };
    const quote = answers.quote(body);
    assert.ok(quote.length <= 301, `${quote.length} chars`);
    assert.ok(quote.endsWith('…'));
    assert.ok(!quote.includes(secret.slice(0, 8)), quote);
    assert.match(quote, /"auth":"\*+…$/);
  });

  it('masks link query strings (signatures) and says (empty) for no body', () => {
    const answers = new UnknownAnswers(new MemoryLogger());
    assert.equal(
      answers.quote({ url: 'https://files.example/x.csv?expires=1&signature=abc' }),
      '{"url":"https://files.example/x.csv?expires=…&signature=…"}',
    );
    assert.equal(answers.quote(undefined), '(empty)');
    assert.equal(answers.quote('a\n  b'), 'a b');
  });
});

describe('field and httpLink', () => {
  it('field: the first name present, exact spelling first, then any case', () => {
    assert.equal(answerField({ dataURL: 'a' }, 'dataUrl'), 'a');
    assert.equal(answerField({ dataurl: 'b', dataUrl: 'c' }, 'dataUrl'), 'c');
    assert.equal(answerField({ x: null, y: 1 }, 'x', 'y'), null);
    assert.equal(answerField({ y: 1 }, 'x', 'y'), 1);
    for (const notObject of [null, undefined, 'text', 3, [1]])
      assert.equal(answerField(notObject, 'x'), undefined);
  });

  it('httpLink: absolute http(s) as sent, protocol-relative with the base scheme, else nothing', () => {
    assert.equal(httpLink(FILE, API), FILE);
    assert.equal(httpLink(' http://127.0.0.1:9/a.zip ', API), 'http://127.0.0.1:9/a.zip');
    assert.equal(
      httpLink('//static.pushwoosh.com/a.zip', API),
      'https://static.pushwoosh.com/a.zip',
    );
    assert.equal(httpLink('//127.0.0.1:9/a.zip', 'http://127.0.0.1:8'), 'http://127.0.0.1:9/a.zip');
    for (const bad of ['', 'a.zip', '/a.zip', 'ftp://x/a.zip', '///a', 'https://', null, 5, {}])
      assert.equal(httpLink(bad, API), undefined, JSON.stringify(bad));
  });
});

describe('Pushwoosh getResults answers', () => {
  const pending = (recognised: boolean): ResultsAnswer => ({ kind: 'pending', recognised });
  const env = (status_code: unknown, status_message: string, response: unknown) => ({
    status_code,
    status_message,
    response,
  });

  it('a file link under any plausible name is ready, whatever the status_code says', () => {
    for (const response of [
      { fileName: FILE },
      { file_name: FILE },
      { url: FILE },
      { link: FILE },
      { fileUrl: FILE },
      { FileName: FILE },
    ]) {
      assert.deepEqual(readResults(200, env(200, 'OK', response), API), {
        kind: 'ready',
        url: FILE,
      });
    }
    assert.deepEqual(readResults(200, env('200', 'OK', { fileName: FILE }), API).kind, 'ready');
    assert.deepEqual(readResults(200, { fileName: FILE }, API).kind, 'ready');
    assert.deepEqual(readResults(210, env(210, 'OK', { fileName: FILE }), API).kind, 'ready');
    assert.deepEqual(
      readResults(200, env(200, 'OK', { fileName: '//static.pushwoosh.com/x.zip' }), API),
      { kind: 'ready', url: 'https://static.pushwoosh.com/x.zip' },
    );
  });

  it('says "not ready" in words: recognised, not logged', () => {
    const answers: [number, unknown][] = [
      [200, env(210, 'Request is not ready yet', null)],
      [200, env(210, 'Request is being processed', null)],
      [210, env(210, 'Request is not ready yet', null)],
      [200, env(200, 'OK', { status: 'pending' })],
      [200, env(200, 'OK', { status: 'queued' })],
      [200, { status: 'processing' }],
      [200, { status_code: 200, status: 'in_progress' }],
      [404, env(210, 'Request is not ready yet', null)],
      [200, 'Request is not ready yet'],
    ];
    for (const [status, body] of answers)
      assert.deepEqual(readResults(status, body, API), pending(true), JSON.stringify(body));
  });

  it('any other answer without a link is not ready yet, unrecognised (logged once)', () => {
    const answers: [number, unknown][] = [
      [200, env(202, 'Accepted', null)],
      [200, env(0, '', null)],
      [200, env(100, 'Continue', null)],
      [200, env('200', 'OK', {})],
      [200, env(200, 'OK', {})],
      [200, env(200, 'OK', { fileName: null })],
      [200, env(200, 'OK', { fileName: '' })],
      [200, env(200, 'OK', null)],
      [200, env(500, 'Internal error', null)],
      [202, undefined],
      [204, undefined],
      [200, 'still working'],
      [200, { error: 'temporarily unavailable' }],
      // A link that is no absolute URL is not guessed at; "pending" words do not change that.
      [200, env(200, 'OK', { fileName: 'tracking_log.zip' })],
      [200, env(210, 'Request is not ready yet', { fileName: 'x.zip' })],
    ];
    for (const [status, body] of answers)
      assert.deepEqual(readResults(status, body, API), pending(false), JSON.stringify(body));
  });

  it('a body status_code 210 or 4xx that does not say "not ready" is a final error at once', () => {
    for (const [code, message] of [
      [210, 'Argument error'],
      ['210', 'Wrong date format'],
      [400, 'Bad request'],
      [404, 'Gone'],
    ] as const) {
      assert.deepEqual(
        readResults(200, env(code, message, null), API),
        { kind: 'rejected', code: Number(code), message },
        `${code} ${message}`,
      );
    }
    // A 210 that says it is not ready stays a wait, as a 5xx or 202 does.
    assert.equal(readResults(200, env(210, 'Request is not ready yet', null), API).kind, 'pending');
    assert.equal(readResults(200, env(500, 'Internal error', null), API).kind, 'pending');
  });

  it('a rejected token is an auth error; an unknown request or a malformed call is final', () => {
    assert.equal(
      readResults(200, env(210, 'Access denied or application not found', null), API).kind,
      'auth',
    );
    assert.equal(
      readResults(200, env(403, 'Token restrictions forbid this operation', null), API).kind,
      'auth',
    );
    assert.equal(readResults(200, { error: 'Invalid API token' }, API).kind, 'auth');
    assert.equal(readResults(401, undefined, API).kind, 'auth');
    assert.equal(readResults(403, 'Forbidden', API).kind, 'auth');
    assert.deepEqual(readResults(200, env(210, 'Request "abc" not found', null), API), {
      kind: 'final',
      status: 200,
      message: 'Request "abc" not found',
    });
    for (const text of ['request_id is required', 'Unknown request', 'Request expired'])
      assert.equal(readResults(200, env(210, text, null), API).kind, 'final', text);
    assert.equal(readResults(400, env(400, 'Malformed request string', null), API).kind, 'final');
    assert.deepEqual(readResults(400, 'Bad Request', API), {
      kind: 'final',
      status: 400,
      message: 'Bad Request',
    });
    assert.deepEqual(readResults(404, undefined, API), {
      kind: 'final',
      status: 404,
      message: '(empty)',
    });
  });

  it('a job state of failed restarts the export', () => {
    assert.deepEqual(readResults(200, env(200, 'OK', { status: 'failed' }), API), {
      kind: 'failed',
      state: 'failed',
    });
    assert.equal(readResults(200, { status: 'Error' }, API).kind, 'failed');
  });
});

describe('Pushwoosh getMessageLog rows', () => {
  const canonical = {
    timestamp: '2026-10-10 00:18:43',
    message_id: 11194339908,
    message_code: '7D17-A8B03F71-65D5FF6D',
    campaign_code: null,
    application_code: 'C90C0-0E786',
    hwid: 'A39100CC',
    user_id: 'user_00016',
    platform: 'chrome',
    action: 'opened',
  };

  it('the documented-by-guess row comes out as it is', () => {
    assert.deepEqual(normalizeMessageLogRow(canonical), canonical);
  });

  it('other names for time, action and ids; unix seconds and milliseconds', () => {
    const rest: Record<string, unknown> = { ...canonical };
    for (const k of ['timestamp', 'action', 'message_id']) delete rest[k];
    const iso = '2026-10-10T00:18:43.000Z';
    const cases: [Record<string, unknown>, unknown, unknown][] = [
      [{ datetime: '2026-10-10T00:18:43Z', status: 'opened' }, '2026-10-10T00:18:43Z', 'opened'],
      [{ date: 1791591523, event: 'sent' }, iso, 'sent'],
      [{ created_at: 1791591523000, action: 'delivered' }, iso, 'delivered'],
      [{ time: '2026-10-10 00:18:43 UTC', Action: 'opened' }, '2026-10-10 00:18:43 UTC', 'opened'],
      [{ createdAt: 1791591523.5, event: 'sent' }, '2026-10-10T00:18:43.500Z', 'sent'],
    ];
    for (const [extra, timestamp, action] of cases) {
      const row = normalizeMessageLogRow({ ...rest, messageId: '11194339908', ...extra });
      assert.deepEqual(
        row,
        { ...canonical, timestamp, action, message_id: '11194339908' },
        JSON.stringify(extra),
      );
    }
    // The most specific name wins when a row has several.
    assert.equal(
      normalizeMessageLogRow({ date: '2026-10-10', timestamp: canonical.timestamp }).timestamp,
      canonical.timestamp,
    );
    assert.equal(normalizeMessageLogRow({ status: 'x', action: 'sent' }).action, 'sent');
  });

  it('a number out of any date range is left as it is, for the stream to name', () => {
    assert.equal(normalizeMessageLogRow({ timestamp: 1e20 }).timestamp, 1e20);
    assert.ok(Number.isNaN(normalizeMessageLogRow({ timestamp: NaN }).timestamp));
  });

  it('a row that is no object has no fields (the stream then names the bad row)', () => {
    assert.equal(normalizeMessageLogRow('x').timestamp, undefined);
    assert.equal(normalizeMessageLogRow(null).action, undefined);
  });
});
