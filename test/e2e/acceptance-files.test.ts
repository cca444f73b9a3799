/**
 * The files Airbyte's acceptance tests read (acceptance-test-config.yml and test_files/), checked
 * against the connector and the emulator: the configs are valid, the catalogs name real streams,
 * the invalid config fails its check, and the abnormal state reads no record but a state per stream.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import {
  DEFAULT_APNS_APPS,
  DEFAULT_APNS_TEAM,
  DEFAULT_ONESIGNAL_APPS,
  DEFAULT_PUSHWOOSH_ACCOUNT,
} from '../../emulator/fixtures';
import { records, states, statuses } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import { parseConfig } from '../../src/source';
import { appKey } from '../../src/providers/onesignal/messages';
import { readRepoFile, repoPath } from '../support/repo';
import { ConnectorSession, errorsOf, protocolProblems } from '../support/e2e';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const readJson = (...p: string[]) => JSON.parse(readRepoFile(...p)) as Json;
const STREAMS = readdirSync(repoPath('resources', 'schemas'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();
/** The sections whose tests the CDK's standard tests read as scenarios (and CAT runs). */
const SCENARIO_SECTIONS = [
  'spec',
  'connection',
  'discovery',
  'basic_read',
  'full_refresh',
  'incremental',
];
const SAMPLE_CONFIGS = [
  'sample_config.json',
  'sample_config_apns.json',
  'sample_config_apns_apps.json',
  'sample_config_onesignal.json',
  'sample_config_pushwoosh.json',
];
const SECRETS = [
  ...DEFAULT_APNS_APPS.flatMap((a) => Object.values(a.tokens)),
  ...DEFAULT_ONESIGNAL_APPS.map((a) => a.apiKey),
  DEFAULT_PUSHWOOSH_ACCOUNT.apiToken,
] as string[];

/** A test_files config with the emulator's secrets and URL in place of the placeholders. */
function forEmulator(config: Json, apiUrl: string): Json {
  const c = structuredClone(config);
  if (c.apns) {
    const t = DEFAULT_APNS_TEAM.tokens;
    if (c.apns.delivery_metrics_token) c.apns.delivery_metrics_token = t.deliverymetrics;
    if (c.apns.broadcast_app_token) c.apns.broadcast_app_token = t.broadcastapplicationmetric;
    if (c.apns.broadcast_channel_token) c.apns.broadcast_channel_token = t.broadcastchannelmetrics;
    for (const app of c.apns.apps ?? []) {
      const known = DEFAULT_APNS_APPS.find((a) => a.bundleId === app.bundle_id);
      assert.ok(known, `${app.bundle_id} is an emulator app`);
      if (app.delivery_metrics_token) app.delivery_metrics_token = known.tokens.deliverymetrics;
      if (app.broadcast_app_token)
        app.broadcast_app_token = known.tokens.broadcastapplicationmetric;
      if (app.broadcast_channel_token)
        app.broadcast_channel_token = known.tokens.broadcastchannelmetrics;
    }
    c.apns.api_url = apiUrl;
  }
  if (c.onesignal) {
    for (const app of c.onesignal.apps) {
      const known = DEFAULT_ONESIGNAL_APPS.find((a) => a.appId === app.app_id);
      assert.ok(known, `${app.app_id} is an emulator app`);
      app.api_key = known.apiKey;
    }
    c.onesignal.api_url = apiUrl;
  }
  if (c.pushwoosh) {
    c.pushwoosh.api_token = DEFAULT_PUSHWOOSH_ACCOUNT.apiToken;
    c.pushwoosh.api_url = apiUrl;
  }
  return c;
}

describe('acceptance-test-config.yml and test_files/', () => {
  const cat = yaml.load(readRepoFile('acceptance-test-config.yml'), {
    schema: yaml.JSON_SCHEMA,
  }) as Json;
  const session = new ConnectorSession();
  let emu: Emulator;

  before(async () => {
    emu = await Emulator.start({
      apns: { processingPolls: 1 },
      pushwoosh: { pendingPolls: 1 },
      onesignal: { recordsPerSecond: 1_000_000, rateLimitWindowMs: 5 },
    });
  });
  after(async () => {
    await emu.close();
    for (const r of session.outputs)
      for (const s of SECRETS)
        assert.equal(r.stdout.includes(s) || r.stderr.includes(s), false, 'a secret leaked');
    session.cleanup();
  });

  it('the CAT config tests the image of metadata.yaml, with real secrets and files that exist', () => {
    const metadata = yaml.load(readRepoFile('metadata.yaml'), { schema: yaml.JSON_SCHEMA }) as Json;
    assert.equal(cat.connector_image, `${metadata.data.dockerRepository}:dev`);
    const paths: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v))
          if (/_path$/.test(k) && typeof x === 'string') paths.push(x);
          else walk(x);
    };
    walk(cat.acceptance_tests);
    assert.ok(paths.length >= 10);
    for (const p of paths) {
      if (p.startsWith('secrets/')) assert.equal(p, 'secrets/config.json');
      else assert.ok(existsSync(repoPath(p)), `${p} exists`);
    }
    assert.equal(cat.acceptance_tests.spec.tests[0].spec_path, 'resources/spec.json');
    const tests = cat.acceptance_tests;
    for (const t of SCENARIO_SECTIONS) assert.ok(tests[t]?.tests?.length, `${t} is tested`);
    assert.deepEqual(
      tests.connection.tests.map((t: Json) => t.status),
      ['succeed', 'failed'],
    );
  });

  it("loads in CAT's model and in the CDK's standard tests (ConnectorTestScenario)", () => {
    // CAT (connector_acceptance_test/config.py): connector_image and acceptance_tests required;
    // a section has tests or a bypass_reason, not both; expect_records (extra keys forbidden) has
    // a path or a bypass_reason, not both; at high strictness basic_read expects records.
    const problems: string[] = [];
    if (typeof cat.connector_image !== 'string') problems.push('CAT: no connector_image');
    if (!['high', 'low'].includes(cat.test_strictness_level)) problems.push('CAT: strictness');
    const sections = cat.acceptance_tests as Record<string, Json>;
    for (const [name, section] of Object.entries(sections)) {
      if (section.tests && section.bypass_reason) problems.push(`CAT: ${name} has both`);
      for (const [i, t] of (section.tests ?? []).entries()) {
        const where = `${name}.tests[${i}]`;
        const er = t.expect_records as Json | undefined;
        if (er) {
          const extra = Object.keys(er).filter(
            (k) => !['path', 'bypass_reason', 'exact_order'].includes(k),
          );
          if (extra.length) problems.push(`CAT: ${where}.expect_records has ${extra.join(', ')}`);
          if (!er.path === !er.bypass_reason)
            problems.push(`CAT: ${where}.expect_records needs a path or a bypass_reason, not both`);
        } else if (name === 'basic_read' && cat.test_strictness_level === 'high')
          problems.push(`CAT: ${where} needs expect_records at high strictness`);
        // The CDK (airbyte_cdk/test/models/scenario.py) reads the entries of these sections as
        // ConnectorTestScenario: typed fields, expect_records.path and file_types' two fields
        // required; other keys are ignored.
        if (!SCENARIO_SECTIONS.includes(name)) continue;
        for (const k of ['config_path', 'configured_catalog_path'])
          if (t[k] !== undefined && typeof t[k] !== 'string') problems.push(`CDK: ${where}.${k}`);
        if (t.timeout_seconds !== undefined && !Number.isInteger(t.timeout_seconds))
          problems.push(`CDK: ${where}.timeout_seconds is not an integer`);
        if (t.status !== undefined && !['succeed', 'failed', 'exception'].includes(t.status))
          problems.push(`CDK: ${where}.status`);
        if (er && typeof er.path !== 'string')
          problems.push(`CDK: ${where}.expect_records has no path`);
        if (er?.exact_order !== undefined && typeof er.exact_order !== 'boolean')
          problems.push(`CDK: ${where}.expect_records.exact_order`);
        if (
          t.file_types &&
          (typeof t.file_types.skip_test !== 'boolean' ||
            typeof t.file_types.bypass_reason !== 'string')
        )
          problems.push(`CDK: ${where}.file_types needs skip_test and bypass_reason`);
        for (const e of t.empty_streams ?? [])
          if (typeof e?.name !== 'string') problems.push(`CDK: ${where}.empty_streams needs names`);
      }
    }
    assert.deepEqual(problems, []);
    // The expected records file is JSON lines (empty here: see the comment in the config).
    const expected = readRepoFile(sections.basic_read.tests[0].expect_records.path);
    for (const line of expected.split('\n').filter(Boolean))
      assert.doesNotThrow(() => JSON.parse(line));
  });

  it('every sample config is valid for the spec and the connector', () => {
    const spec = readJson('resources', 'spec.json');
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
    const validate = ajv.compile(spec.connectionSpecification);
    for (const f of [...SAMPLE_CONFIGS, 'invalid_config.json']) {
      const config = readJson('test_files', f);
      assert.equal(validate(config), true, `${f}: ${ajv.errorsText(validate.errors)}`);
      assert.doesNotThrow(() => parseConfig(config), f);
    }
  });

  it('the configured catalogs name every real stream, with its keys and cursor', async () => {
    const d = await session.run('discover', {
      config: forEmulator(readJson('test_files', 'sample_config.json'), emu.apiUrl),
    });
    assert.equal(d.code, 0);
    const discovered = new Map(
      (d.messages.find((m) => m.type === 'CATALOG')!.catalog.streams as Json[]).map((s) => [
        s.name,
        s,
      ]),
    );
    assert.deepEqual(
      [...discovered.keys()].sort(),
      STREAMS,
      'sample_config.json enables every stream',
    );
    for (const [file, mode] of [
      ['configured_catalog.json', 'full_refresh'],
      ['configured_catalog_incremental.json', 'incremental'],
    ]) {
      const streams = readJson('test_files', file).streams as Json[];
      assert.deepEqual(streams.map((s) => s.stream.name).sort(), STREAMS, file);
      for (const s of streams) {
        const real = discovered.get(s.stream.name)!;
        assert.equal(s.sync_mode, mode);
        assert.ok(real.supported_sync_modes.includes(s.sync_mode));
        assert.deepEqual(s.stream.source_defined_primary_key, real.source_defined_primary_key);
        assert.deepEqual(s.stream.default_cursor_field, real.default_cursor_field);
        assert.deepEqual(s.stream.supported_sync_modes, real.supported_sync_modes);
      }
    }
  });

  it('each single-provider config discovers its own streams', async () => {
    const expected: Record<string, string[]> = {
      'sample_config_apns.json': STREAMS.filter((s) => s.startsWith('apns_')),
      'sample_config_apns_apps.json': STREAMS.filter((s) => s.startsWith('apns_')),
      'sample_config_onesignal.json': ['onesignal_message_events', 'onesignal_messages'],
      'sample_config_pushwoosh.json': ['pushwoosh_tracking'],
    };
    for (const [file, streams] of Object.entries(expected)) {
      const config = forEmulator(readJson('test_files', file), emu.apiUrl);
      const d = await session.run('discover', { config });
      const names = (d.messages.find((m) => m.type === 'CATALOG')!.catalog.streams as Json[])
        .map((s) => s.name)
        .sort();
      assert.deepEqual(names, streams, file);
      const check = await session.run('check', { config });
      assert.deepEqual(
        check.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus,
        { status: 'SUCCEEDED' },
        file,
      );
    }
  });

  it('invalid_config.json: check answers FAILED and exits 0', async () => {
    const config = readJson('test_files', 'invalid_config.json');
    // The emulator in place of the vendors; the credentials stay the file's wrong ones.
    for (const p of ['apns', 'onesignal', 'pushwoosh']) config[p].api_url = emu.apiUrl;
    const r = await session.run('check', { config });
    assert.equal(r.code, 0);
    assert.deepEqual(protocolProblems(r), []);
    const status = r.messages.filter((m) => m.type === 'CONNECTION_STATUS');
    assert.equal(status.length, 1);
    assert.equal(status[0].connectionStatus.status, 'FAILED');
    assert.match(
      status[0].connectionStatus.message,
      /^Apple APNs: Apple rejected apns\.delivery_metrics_token/,
    );
  });

  it('abnormal_state.json: a far-future cursor for every incremental stream and partition', () => {
    const state = readJson('test_files', 'abnormal_state.json') as unknown as Json[];
    assert.deepEqual(
      state.map((s) => s.type),
      STREAMS.map(() => 'STREAM'),
    );
    const byName = new Map(
      state.map((s) => [s.stream.stream_descriptor.name, s.stream.stream_state]),
    );
    const incremental = (
      readJson('test_files', 'configured_catalog_incremental.json').streams as Json[]
    ).map((s) => s.stream.name);
    for (const name of incremental) assert.ok(byName.has(name), `${name} has an abnormal state`);
    const config = readJson('test_files', 'sample_config.json');
    assert.deepEqual(
      Object.keys(byName.get('apns_broadcast_channel').app_channels).sort(),
      config.apns.channel_ids.map((id: string) => `${config.apns.bundle_id}:${id}`).sort(),
    );
    assert.deepEqual(
      Object.keys(byName.get('onesignal_message_events').apps).sort(),
      config.onesignal.apps.map((a: Json) => appKey(a.app_id)).sort(),
    );
    assert.deepEqual(Object.keys(byName.get('pushwoosh_tracking').applications), [
      config.pushwoosh.application_code,
    ]);
    // Every cursor in it is far in the future.
    const cursors = JSON.stringify(state).match(/"\d{4}-\d{2}-\d{2}/g)!;
    assert.ok(cursors.length >= STREAMS.length);
    for (const c of cursors) assert.ok(c.slice(1) > '2100', c);
  });

  it('a read with abnormal_state.json emits no record and a state for every stream', async () => {
    emu.reset();
    const r = await session.run('read', {
      config: forEmulator(readJson('test_files', 'sample_config.json'), emu.apiUrl),
      catalog: readJson('test_files', 'configured_catalog_incremental.json'),
      state: readJson('test_files', 'abnormal_state.json'),
    });
    assert.equal(r.code, 0, JSON.stringify(errorsOf(r)));
    assert.deepEqual(protocolProblems(r), []);
    assert.equal(records(r).length, 0);
    for (const name of STREAMS) {
      assert.ok(states(r, name).length >= 1, `${name} emits a state`);
      assert.deepEqual(statuses(r, name), ['STARTED', 'COMPLETE'], name);
    }
    // No export was even requested: every window is empty.
    assert.equal(
      emu.requests.filter((q) => /^(apns\.request|onesignal\.export|pushwoosh\.get)/.test(q.route))
        .length,
      0,
    );
  });

  it('sample_records.jsonl: records of every stream that match the stream schemas', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
    ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    const validators = new Map(
      STREAMS.map((s) => [s, ajv.compile(readJson('resources', 'schemas', `${s}.json`))]),
    );
    const lines = readRepoFile('test_files', 'sample_records.jsonl').trim().split('\n');
    const seen = new Set<string>();
    for (const line of lines) {
      const rec = JSON.parse(line) as Json;
      assert.deepEqual(Object.keys(rec).sort(), ['data', 'emitted_at', 'stream']);
      const validate = validators.get(rec.stream);
      assert.ok(validate, `${rec.stream} is a stream`);
      assert.equal(validate(rec.data), true, `${rec.stream}: ${ajv.errorsText(validate.errors)}`);
      // No extra columns (CAT fail_on_extra_columns).
      const schema = readJson('resources', 'schemas', `${rec.stream}.json`);
      for (const k of Object.keys(rec.data))
        assert.ok(k in schema.properties, `${rec.stream}.${k}`);
      seen.add(rec.stream);
    }
    assert.deepEqual([...seen].sort(), STREAMS);
  });
});
