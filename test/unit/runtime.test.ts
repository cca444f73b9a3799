import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { runCli, type Source } from '../../src/airbyte/entrypoint';
import { configError, ConnectorError } from '../../src/airbyte/errors';
import { parseCatalogInput, parseJsonInput, parseStateInput } from '../../src/airbyte/inputs';
import { MemoryLogger } from '../../src/airbyte/logger';
import { MessageWriter } from '../../src/airbyte/output';
import type { JsonObject } from '../../src/airbyte/protocol';
import { runRead } from '../../src/airbyte/read';
import { clip, kindOf, REDACTED, Redactor, secretsOf, shown } from '../../src/airbyte/redact';
import { loadSpec } from '../../src/config';
import { snippet } from '../../src/http/client';
import { jsonSyntaxError } from '../../src/util/json';
import type { ReadContext, Stream, StreamItem } from '../../src/airbyte/stream';

/** Collects what the writer writes, as parsed messages. */
function sink(): { stream: PassThrough; messages: () => JsonObject[]; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const text = () => Buffer.concat(chunks).toString('utf8');
  return {
    stream,
    text,
    messages: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as JsonObject),
  };
}

const TOKEN = 'tok-ABCDEFGHIJKLMNOP/+=?&';

describe('Redactor', () => {
  it('removes every spelling of a secret', () => {
    const r = new Redactor([TOKEN]);
    const forms = [
      TOKEN,
      encodeURIComponent(TOKEN),
      JSON.stringify(TOKEN),
      Buffer.from(TOKEN).toString('base64'),
    ];
    for (const f of forms)
      assert.equal(r.redact(`x ${f} y`).includes('ABCDEFGHIJKLMNOP'), false, f);
    assert.equal(r.redact(`a ${TOKEN} b`), `a ${REDACTED} b`);
  });
  it('ignores values too short to be secrets', () => {
    const r = new Redactor(['ab']);
    assert.equal(r.redact('about'), 'about');
  });
  it('finds secrets by airbyte_secret in the spec, in arrays too', () => {
    const spec = {
      type: 'object',
      properties: {
        a: { type: 'string', airbyte_secret: true },
        b: { type: 'string' },
        list: {
          type: 'array',
          items: { type: 'object', properties: { k: { type: 'string', airbyte_secret: true } } },
        },
      },
    };
    assert.deepEqual(
      secretsOf(spec, { a: 'one1', b: 'two2', list: [{ k: 'three' }, { k: 'four' }] }),
      ['one1', 'three', 'four'],
    );
  });
});

describe('secrets before validation, and before any cut', () => {
  it('finds every value under a secret field name, wherever the config puts it', () => {
    const schema = loadSpec().connectionSpecification;
    const found = secretsOf(schema, {
      pushwoosh: [{ api_token: 'pw-in-a-list', application_code: 'C90C0-0E786' }],
      onesignal: { apps: { first: { app_id: 'id-in-an-object', api_key: 'key-in-an-object' } } },
      apns: { team_id: 'ABCDE12345', delivery_metrics_token: { nested: ['deep-token', 42] } },
      elsewhere: [{ deeper: { api_key: 'key-anywhere' } }],
    });
    assert.deepEqual(found.sort(), [
      '42',
      'deep-token',
      'id-in-an-object',
      'key-anywhere',
      'key-in-an-object',
      'pw-in-a-list',
    ]);
  });
  it('redacts the start of a secret that a snippet cut off, in every message', async () => {
    const body = `{"errors":["rejected: ${TOKEN}"]}`;
    const start = body.indexOf(TOKEN);
    for (let max = start + 3; max < start + TOKEN.length; max++) {
      const s = sink();
      const w = new MessageWriter(s.stream, new Redactor([TOKEN]));
      await w.log('ERROR', `HTTP 401: ${snippet(body, max)}`);
      await w.error(`HTTP 401: ${snippet(body, max)}`, 'config_error');
      await w.close();
      const text = s.text();
      assert.equal(text.includes(TOKEN.slice(0, 3)), false, `cut at ${max}: ${text}`);
      assert.equal(text.split(`rejected: ${REDACTED}…`).length, 3, text);
    }
  });
  it('clip redacts first, then cuts', () => {
    const r = new Redactor([TOKEN]);
    assert.equal(clip(`${'x'.repeat(95)}${TOKEN}`, 100, r), `${'x'.repeat(95)}*****…`);
    assert.equal(clip('short', 100, r), 'short');
  });
  it('describes objects and lists by their kind only', () => {
    assert.equal(shown({ api_key: TOKEN }), 'an object');
    assert.equal(shown([TOKEN]), 'a list');
    assert.equal(shown('abc'), '"abc"');
    assert.equal(shown(7), '7');
    assert.equal(kindOf(null), 'null');
    assert.equal(kindOf(true), 'a boolean');
  });
});

describe('JSON syntax errors', () => {
  const cases: [string, string, number, number][] = [
    ['{"pushwoosh":{"api_token":SECRET-bare-1234}}', 'unexpected character', 1, 27],
    [
      '{\n  "pushwoosh": {\n    "api_token": "SECRET-quoted-5678" "x": 1\n  }\n}',
      "expected ',' or '}'",
      3,
      39,
    ],
    ['{"onesignal": {"apps": [{"api_key": "SECRET-open-9012', 'unterminated string', 1, 37],
    ['{"a": "SECRET-tab-\there"}', 'control character in a string', 1, 19],
    ['{"a": "SECRET-esc-\\q"}', 'invalid escape in a string', 1, 19],
    ['{"a": 01}', "expected ',' or '}'", 1, 8],
    ['{"a": -}', 'invalid number', 1, 7],
    ['{"a" 1}', "expected ':'", 1, 6],
    ["{'a': 1}", 'expected a property name in double quotes', 1, 2],
    ['[1, 2', 'unexpected end of the file', 1, 6],
    ['{} {}', 'unexpected text after the JSON value', 1, 4],
    ['', 'unexpected end of the file', 1, 1],
  ];
  for (const [text, reason, line, column] of cases) {
    it(`${JSON.stringify(text)}: ${reason}, with the file and no text`, () => {
      assert.deepEqual(jsonSyntaxError(text), { line, column, reason });
      assert.throws(
        () => parseJsonInput(text, 'config', '/data/config.json'),
        (e: unknown) =>
          e instanceof ConnectorError &&
          e.failureType === 'config_error' &&
          e.message ===
            `The config file is not valid JSON: ${reason} at line ${line}, column ${column} ("/data/config.json").` &&
          !e.message.includes('SECRET'),
      );
    });
  }
  it('agrees with JSON.parse on what is JSON', () => {
    const valid = JSON.stringify({
      a: [1, -2.5e3, 0, true, false, null, 'x\\"\u00e9\n'],
      b: { c: {}, d: [], 'e f': [[{}]] },
      g: '\u2028',
    });
    const texts = [valid, ` \t\r\n${valid}\n `, '"\\u00zz"', '1.', '.5', '1e', 'nul', 'truex'];
    for (let i = 0; i <= valid.length; i++) texts.push(valid.slice(0, i));
    for (let i = 0; i < valid.length; i++)
      for (const c of ['"', ',', '}', ']', ':', 'x', '\\', '\n', ' ', '0', '-', '\u0001'])
        texts.push(valid.slice(0, i) + c + valid.slice(i + 1));
    for (const t of texts) {
      let parses = true;
      try {
        JSON.parse(t);
      } catch {
        parses = false;
      }
      assert.equal(jsonSyntaxError(t) === undefined, parses, JSON.stringify(t));
    }
  });
  it('survives deep nesting', () => {
    assert.deepEqual(jsonSyntaxError('['.repeat(200_000)), {
      line: 1,
      column: 200_001,
      reason: 'unexpected end of the file',
    });
  });
  it('the state and catalog files say so too, without their text', () => {
    assert.throws(
      () => parseStateInput('[{"type": "STREAM", SECRET}]', '/data/state.json'),
      /^ConnectorError: The state file is not valid JSON: expected a property name in double quotes at line 1, column 21 \("\/data\/state.json"\)\.$/,
    );
    assert.throws(
      () => parseCatalogInput('{"streams": [SECRET]}', '/data/catalog.json'),
      /The catalog file is not valid JSON: unexpected character at line 1, column 14 \("\/data\/catalog.json"\)\.$/,
    );
  });
});

describe('MessageWriter', () => {
  it('writes recordCount with a decimal point and redacts non-record messages', async () => {
    const s = sink();
    const w = new MessageWriter(s.stream, new Redactor([TOKEN]));
    await w.state({ name: 'x' }, { date: '2026-01-01' }, 3);
    await w.log('INFO', `token is ${TOKEN}`);
    await w.close();
    assert.match(s.text(), /"sourceStats":\{"recordCount":3\.0\}\}\}\n/);
    const [state, log] = s.messages();
    assert.deepEqual(state, {
      type: 'STATE',
      state: {
        type: 'STREAM',
        stream: { stream_descriptor: { name: 'x' }, stream_state: { date: '2026-01-01' } },
        sourceStats: { recordCount: 3 },
      },
    });
    assert.equal((log.log as JsonObject).message, `token is ${REDACTED}`);
  });
  it('waits for drain when the consumer is slow', async () => {
    let written = 0;
    let pending: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        pending = cb; // completes only when the test says so
      },
    });
    const w = new MessageWriter(slow, new Redactor());
    let wait: Promise<void> | undefined;
    for (let i = 0; i < 5000 && !wait; i++) wait = w.record('"s"', { i, pad: 'x'.repeat(100) }, 1);
    assert.ok(wait, 'record() returned a promise once the buffer was full');
    let resolved = false;
    void wait.then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, false, 'still waiting while the consumer has not taken the data');
    pending?.();
    await wait;
    assert.ok(written > 0);
  });
});

describe('MessageWriter when the process stops', () => {
  it('hands nothing more to stdout once the stop begins: what it wrote is whole lines', async () => {
    const s = sink();
    const stop = new AbortController();
    const w = new MessageWriter(s.stream, new Redactor(), stop.signal);
    await w.record('"a"', { id: 1 }, 1);
    await w.state({ name: 'a' }, { date: 'd1' }, 1);
    await w.record('"a"', { id: 2 }, 2);
    stop.abort();
    await w.state({ name: 'a' }, { date: 'd2' }, 1);
    await w.log('INFO', 'after the stop');
    await w.close();
    assert.deepEqual(
      s.messages().map((m) => m.type),
      ['RECORD', 'STATE'],
    );
    assert.ok(s.text().endsWith('\n'));
  });
});

describe('MessageWriter on a stream that goes away', () => {
  it('a wait for drain ends when the stream closes, and later output is dropped', async () => {
    let writes = 0;
    const stuck = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, _cb) {
        writes++; // never completes: the reader stopped reading
      },
    });
    const w = new MessageWriter(stuck, new Redactor());
    let wait: Promise<void> | undefined;
    for (let i = 0; i < 5000 && !wait; i++) wait = w.record('"s"', { i, pad: 'x'.repeat(100) }, 1);
    assert.ok(wait, 'waiting for drain');
    stuck.destroy();
    await wait;
    const before = writes;
    assert.equal(await w.log('INFO', 'after the close'), undefined);
    await w.close();
    assert.equal(writes, before);
  });
});

describe('state and catalog inputs', () => {
  it('reads the platform list and the empty forms', () => {
    assert.equal(parseStateInput('').size, 0);
    assert.equal(parseStateInput('  \n').size, 0);
    assert.equal(parseStateInput('[]').size, 0);
    assert.equal(parseStateInput('{}').size, 0);
    const m = parseStateInput(
      JSON.stringify([
        {
          type: 'STREAM',
          stream: { stream_descriptor: { name: 'a' }, stream_state: { date: '2026-01-02' } },
          sourceStats: { recordCount: 1.0 },
        },
        { type: 'STREAM', stream: { stream_descriptor: { name: 'b' } } },
      ]),
    );
    assert.deepEqual([...m], [['a', { date: '2026-01-02' }]]);
  });
  for (const [label, text, pattern] of [
    ['garbage', 'not json', /not valid JSON/],
    ['legacy dict', '{"a":{"date":"x"}}', /legacy/],
    ['a number', '3', /a number/],
    ['a global state', '[{"type":"GLOBAL","global":{}}]', /GLOBAL/],
    ['no descriptor', '[{"type":"STREAM","stream":{}}]', /stream_descriptor\.name/],
    [
      'state not an object',
      '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":5}}]',
      /not an object/,
    ],
  ] as const) {
    it(`rejects ${label} with a config_error`, () => {
      assert.throws(
        () => parseStateInput(text),
        (e: unknown) =>
          e instanceof ConnectorError &&
          e.failureType === 'config_error' &&
          pattern.test(e.message),
      );
    });
  }
  it('validates the catalog', () => {
    assert.throws(() => parseCatalogInput('{}'), /streams/);
    assert.throws(
      () => parseCatalogInput('{"streams":[{"stream":{"name":"a"},"sync_mode":"sometimes"}]}'),
      /sync_mode "sometimes"/,
    );
    assert.throws(
      () =>
        parseCatalogInput(
          '{"streams":[{"stream":{"name":"a"},"sync_mode":"incremental"},{"stream":{"name":"a"},"sync_mode":"incremental"}]}',
        ),
      /twice/,
    );
    assert.equal(
      parseCatalogInput('{"streams":[{"stream":{"name":"a"},"sync_mode":"incremental"}]}').streams
        .length,
      1,
    );
  });
});

/** An in-memory stream: the unit under test is the runtime around it. */
function fakeStream(name: string, items: (StreamItem | Error)[], seen: ReadContext[] = []): Stream {
  return {
    name,
    primaryKey: [['id']],
    cursorField: ['date'],
    schema: () => ({ type: 'object', properties: { id: { type: 'integer' } } }),
    parseState: (s) => {
      if (typeof (s as JsonObject).date !== 'string') throw configError(`bad state of ${name}`);
      return s as JsonObject;
    },
    async *read(ctx) {
      seen.push(ctx);
      for (const item of items) {
        if (item instanceof Error) throw item;
        yield item;
      }
    },
  };
}

const rec = (id: number): StreamItem => ({ kind: 'record', data: { id } });
const cp = (date: string): StreamItem => ({ kind: 'checkpoint', state: { date } });

async function read(
  streams: Stream[],
  catalogNames: string[],
  states = new Map<string, unknown>(),
  mode: 'incremental' | 'full_refresh' = 'incremental',
) {
  const s = sink();
  const w = new MessageWriter(s.stream, new Redactor());
  const ok = await runRead(
    {
      streams,
      unavailable: new Map([['known_unconfigured', 'the configuration has no token']]),
      catalog: { streams: catalogNames.map((name) => ({ stream: { name }, sync_mode: mode })) },
      states,
    },
    w,
    new MemoryLogger(),
  );
  await w.close();
  return { ok, messages: s.messages() };
}

/** Each STATE equal to the stream's previous STATE with records between them (forbidden). */
function sequentialDuplicates(ms: JsonObject[]): string[] {
  const last = new Map<string, { state: string; records: number }>();
  const found: string[] = [];
  for (const m of ms) {
    if (m.type === 'RECORD') {
      const name = (m.record as JsonObject).stream as string;
      const l = last.get(name);
      if (l) l.records++;
    } else if (m.type === 'STATE') {
      const st = (m.state as JsonObject).stream as JsonObject;
      const name = (st.stream_descriptor as JsonObject).name as string;
      const state = JSON.stringify(st.stream_state);
      const l = last.get(name);
      if (l && l.state === state && l.records > 0) found.push(`${name} ${state}`);
      last.set(name, { state, records: 0 });
    }
  }
  return found;
}

const kinds = (ms: JsonObject[]) =>
  ms.map((m) => {
    if (m.type === 'RECORD') return `R${((m.record as JsonObject).data as JsonObject).id}`;
    if (m.type === 'STATE') {
      const st = m.state as {
        stream: { stream_state: JsonObject };
        sourceStats: { recordCount: number };
      };
      return `S${st.stream.stream_state.date ?? '{}'}/${st.sourceStats.recordCount}`;
    }
    const t = m.trace as JsonObject;
    if (t.type === 'STREAM_STATUS') return (t.stream_status as JsonObject).status as string;
    return `${t.type}:${(t.error as JsonObject | undefined)?.failure_type ?? ''}`;
  });

describe('runRead', () => {
  it('emits statuses, records and states with exact counts', async () => {
    const { ok, messages } = await read(
      [fakeStream('a', [rec(1), rec(2), cp('d1'), cp('d2'), rec(3), cp('d3')])],
      ['a'],
    );
    assert.equal(ok, true);
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'R2',
      'Sd1/2',
      'Sd2/0',
      'R3',
      'Sd3/1',
      'COMPLETE',
    ]);
  });
  it('takes pre-serialized batches and counts each record', async () => {
    const batch: StreamItem = { kind: 'records', json: ['{"id":4}', '{"id":5}'] };
    const { messages } = await read(
      [fakeStream('a', [{ kind: 'records', json: [] }, batch, cp('d1')])],
      ['a'],
    );
    assert.deepEqual(kinds(messages), ['STARTED', 'RUNNING', 'R4', 'R5', 'Sd1/2', 'COMPLETE']);
  });
  it('never emits the same state twice in a row; the count carries to the next state', async () => {
    const { messages } = await read(
      [fakeStream('a', [rec(1), cp('d5'), rec(2), cp('d5'), rec(3), cp('d6')])],
      ['a'],
      new Map([['a', { date: 'd5' }]]),
    );
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'R2',
      'R3',
      'Sd6/3',
      'COMPLETE',
    ]);
  });
  it('ends with a state even when nothing was read, and counts trailing records', async () => {
    const empty = await read([fakeStream('a', [])], ['a'], new Map([['a', { date: 'd9' }]]));
    assert.deepEqual(kinds(empty.messages), ['STARTED', 'Sd9/0', 'COMPLETE']);
    const noState = await read([fakeStream('a', [])], ['a']);
    assert.deepEqual(kinds(noState.messages), ['STARTED', 'S{}/0', 'COMPLETE']);
    const lookbackOnly = await read(
      [fakeStream('a', [rec(1), cp('d9')])],
      ['a'],
      new Map([['a', { date: 'd9' }]]),
    );
    assert.deepEqual(kinds(lookbackOnly.messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'Sd9/1',
      'COMPLETE',
    ]);
  });
  it('a full refresh given a state (a retry attempt) hands it to the stream and continues after it', async () => {
    const seen: ReadContext[] = [];
    const { messages } = await read(
      [fakeStream('a', [rec(6), cp('d6')], seen)],
      ['a'],
      new Map([['a', { date: 'd5' }]]),
      'full_refresh',
    );
    assert.deepEqual(seen[0].state, { date: 'd5' });
    assert.equal(seen[0].syncMode, 'full_refresh');
    assert.deepEqual(kinds(messages), ['STARTED', 'RUNNING', 'R6', 'Sd6/1', 'COMPLETE']);
    const fresh: ReadContext[] = [];
    await read([fakeStream('a', [rec(1), cp('d1')], fresh)], ['a'], new Map(), 'full_refresh');
    assert.equal(fresh[0].state, undefined, 'without a state it starts from the beginning');
  });
  it('a full refresh validates its state like an incremental sync', async () => {
    const { ok, messages } = await read(
      [fakeStream('a', [rec(1)])],
      ['a'],
      new Map([['a', { nope: 1 }]]),
      'full_refresh',
    );
    assert.equal(ok, false);
    assert.deepEqual(kinds(messages), ['STARTED', 'ERROR:config_error', 'INCOMPLETE']);
  });
  it('never ends with a state equal to the last one when records came between', async () => {
    // The last unit's records do not move the cursor (a lookback day, a message still being
    // delivered): its checkpoint equals the last state, and is not repeated.
    const { messages } = await read(
      [fakeStream('a', [rec(1), cp('d6'), rec(2), cp('d6'), rec(3)])],
      ['a'],
      new Map([['a', { date: 'd5' }]]),
    );
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'Sd6/1',
      'R2',
      'R3',
      'COMPLETE',
    ]);
    assert.deepEqual(sequentialDuplicates(messages), []);
  });
  it('a failing stream reports its error and INCOMPLETE; the others still run', async () => {
    const boom = new ConnectorError('vendor said no', 'transient_error');
    const { ok, messages } = await read(
      [fakeStream('a', [rec(1), cp('d1'), rec(2), boom]), fakeStream('b', [rec(7), cp('d7')])],
      ['a', 'missing', 'known_unconfigured', 'b'],
    );
    assert.equal(ok, false);
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'Sd1/1',
      'R2',
      'ERROR:transient_error',
      'INCOMPLETE',
      'STARTED',
      'ERROR:config_error',
      'INCOMPLETE',
      'STARTED',
      'ERROR:config_error',
      'INCOMPLETE',
      'STARTED',
      'RUNNING',
      'R7',
      'Sd7/1',
      'COMPLETE',
    ]);
    const errors = messages
      .filter((m) => (m.trace as JsonObject | undefined)?.type === 'ERROR')
      .map((m) => (m.trace as JsonObject).error as JsonObject);
    assert.match(
      errors[1].message as string,
      /'missing' in your connection configuration was not found/,
    );
    assert.match(
      errors[2].message as string,
      /'known_unconfigured' is in the catalog but the configuration has no token/,
    );
    assert.deepEqual(errors[0].stream_descriptor, { name: 'a' });
  });
  it('a bad saved state fails that stream with a config_error', async () => {
    const { ok, messages } = await read(
      [fakeStream('a', [rec(1)])],
      ['a'],
      new Map([['a', { nope: 1 }]]),
    );
    assert.equal(ok, false);
    assert.deepEqual(kinds(messages), ['STARTED', 'ERROR:config_error', 'INCOMPLETE']);
  });
});

describe('runCli', () => {
  const source: Source<JsonObject> = {
    spec: () => ({ connectionSpecification: { type: 'object' } }),
    secrets: (raw) => [String((raw as JsonObject).token)],
    parseConfig: (raw) => {
      if ((raw as JsonObject).bad) throw configError('config.bad is not allowed');
      return raw as JsonObject;
    },
    check: async (c) =>
      c.token === 'good-token'
        ? { ok: true }
        : { ok: false, message: `token ${String(c.token)} rejected` },
    streams: () => ({ streams: [fakeStream('a', [rec(1), cp('d1')])], unavailable: new Map() }),
  };
  async function cli(argv: string[]) {
    const out = sink();
    const err = sink();
    const code = await runCli(argv, source, out.stream, err.stream);
    return { code, messages: out.messages(), stderr: err.text() };
  }
  it('rejects a wrong command with a TRACE, usage on stderr and a non-zero exit', async () => {
    for (const argv of [
      [],
      ['sync'],
      ['read', '--config'],
      ['check'],
      ['read', '--config', 'x'],
      ['spec', '--verbose'],
    ]) {
      const r = await cli(argv);
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.stderr, /usage:/);
      assert.equal(
        ((r.messages[0].trace as JsonObject).error as JsonObject).failure_type,
        'config_error',
      );
    }
  });
  it('names a missing config file', async () => {
    const r = await cli(['check', '--config', '/nonexistent/config.json']);
    assert.equal(r.code, 1);
    assert.match(
      ((r.messages[0].trace as JsonObject).error as JsonObject).message as string,
      /config file "\/nonexistent\/config.json" does not exist/,
    );
  });
});

describe('runRead on failure', () => {
  it('checkpoints completed work whose state was held back as a duplicate', async () => {
    const boom = new ConnectorError('channel gone', 'config_error');
    const { messages } = await read(
      [fakeStream('a', [rec(1), cp('d5'), rec(2), cp('d5'), rec(3), boom])],
      ['a'],
      new Map([['a', { date: 'd5' }]]),
    );
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'R2',
      'R3',
      'Sd5/2',
      'ERROR:config_error',
      'INCOMPLETE',
    ]);
  });
  it('does not repeat a state that was already emitted', async () => {
    const boom = new ConnectorError('later failure', 'transient_error');
    const { messages } = await read(
      [fakeStream('a', [rec(1), cp('d6'), rec(2), cp('d6'), boom])],
      ['a'],
      new Map([['a', { date: 'd5' }]]),
    );
    assert.deepEqual(kinds(messages), [
      'STARTED',
      'RUNNING',
      'R1',
      'Sd6/1',
      'R2',
      'ERROR:transient_error',
      'INCOMPLETE',
    ]);
  });
});
