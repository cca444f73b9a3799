/**
 * The UI form (resources/spec.json) against the rules Airbyte's acceptance tests apply to specs,
 * and the stream schemas against the discovery rules: Draft-7 valid, keys and cursors that exist.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { runConnector, writeJsonFiles } from '../../emulator/harness';
import { parseConfig } from '../../src/source';
import { readRepoFile, repoPath } from '../support/repo';
import { SPEC_RULES, specViolations } from '../support/spec-rules';

type Schema = Record<string, unknown>;
const spec = JSON.parse(readRepoFile('resources', 'spec.json')) as {
  documentationUrl: string;
  connectionSpecification: Schema;
};
const root = spec.connectionSpecification;
const props = root.properties as Record<string, Schema>;
const STREAMS = readdirSync(repoPath('resources', 'schemas'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

/** A config that enables every stream; discover needs no network. */
const FULL_CONFIG = {
  apns: {
    team_id: 'ABCDE12345',
    bundle_id: 'com.example.app',
    delivery_metrics_token: 'token-delivery-0123456789',
    broadcast_app_token: 'token-broadcast-app-0123456789',
    broadcast_channel_token: 'token-broadcast-channel-0123456789',
    channel_ids: ['dHN0LXNyY2gtY2hubA=='],
  },
  onesignal: {
    apps: [{ app_id: '00000000-0000-4000-8000-000000000001', api_key: 'key-0123456789abcdef' }],
  },
  pushwoosh: { api_token: 'token-pushwoosh-0123456789', application_code: 'ABCDE-12345' },
};

describe('spec (the UI form)', () => {
  for (const [name, rule] of Object.entries(SPEC_RULES)) {
    it(`passes rule ${name}`, () => assert.deepEqual(rule(root), []));
  }

  it('the rules catch what they are for', () => {
    const bad: Schema = {
      type: 'object',
      properties: {
        token: {
          type: 'string',
          title: 'T',
          description: 'a token that is not marked secret',
          order: 0,
          group: 'x',
        },
        when: {
          type: 'string',
          format: 'date',
          title: 'W',
          description: 'a date without a pattern',
          order: 0,
          group: 'x',
        },
        nested: {
          type: 'object',
          title: 'N',
          description: 'an object with a grouped child and no other properties',
          order: 1,
          group: 'x',
          additionalProperties: false,
          properties: {
            inner: {
              type: ['string', 'integer'],
              group: 'y',
              order: 0,
              title: 'I',
              description: 'two types and a nested group',
            },
          },
        },
        empty: {
          type: 'object',
          title: 'E',
          description: 'an object without any properties',
          order: 2,
          group: 'x',
        },
        list: {
          type: 'array',
          items: [{ type: 'string' }],
          title: 'L',
          description: 'a tuple of items, which the UI cannot draw',
          order: 3,
          group: 'x',
        },
        choice: {
          anyOf: [{ type: 'string' }],
          title: 'C',
          description: 'an anyOf without a parent object type',
          order: 4,
          group: 'x',
        },
      },
    };
    const found = specViolations(bad).join('\n');
    for (const expected of [
      /secrets: token must have airbyte_secret/,
      /forbiddenKeywords: .*anyOf/,
      /singleType: nested.inner/,
      /objectsNotEmpty: \/properties\/empty/,
      /arrayItems: .*single schema/,
      /uniqueOrder: .*duplicate order 0/,
      /groups: nested.inner: group is only allowed on top-level/,
      /additionalPropertiesTrue/,
      /datePatterns: when: format date without a date pattern/,
    ])
      assert.match(found, expected);
  });

  it('marks every credential secret: tokens, keys and the OneSignal App ID', () => {
    const apns = props.apns.properties as Record<string, Schema>;
    const app = ((props.onesignal.properties as Record<string, Schema>).apps.items as Schema)
      .properties as Record<string, Schema>;
    const pushwoosh = props.pushwoosh.properties as Record<string, Schema>;
    for (const s of [
      apns.delivery_metrics_token,
      apns.broadcast_app_token,
      apns.broadcast_channel_token,
      app.app_id,
      app.api_key,
      pushwoosh.api_token,
    ])
      assert.equal(s.airbyte_secret, true);
  });

  it('reads top to bottom: providers, then the sync window, then export waits', () => {
    const groups = (root.groups as { id: string }[]).map((g) => g.id);
    const ordered = Object.entries(props).sort(
      ([, a], [, b]) =>
        groups.indexOf(a.group as string) - groups.indexOf(b.group as string) ||
        (a.order as number) - (b.order as number),
    );
    assert.deepEqual(
      ordered.map(([k]) => k),
      Object.keys(props),
      'the file lists properties in form order',
    );
    assert.deepEqual(Object.keys(props), [
      'apns',
      'onesignal',
      'pushwoosh',
      'start_date',
      'lookback_days',
      'export_poll_max_interval_seconds',
      'export_timeout_minutes',
    ]);
    // Orders increase with the groups, so a UI that ignores groups shows the same order.
    const orders = ordered.map(([, s]) => s.order as number);
    assert.deepEqual(
      orders,
      [...orders].sort((a, b) => a - b),
    );
  });

  it('tells the user where each credential is found', () => {
    const text = JSON.stringify(spec);
    for (const where of [
      'CloudKit Console',
      'Create Data Export Token',
      'Each dataset needs its own Data Export Token',
      'Keys & IDs',
      'API Access',
      'Membership',
    ])
      assert.ok(text.includes(where), `the form mentions ${where}`);
  });

  it('every example is valid for its field, and the sample config parses', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
    const walk = (s: Schema, path: string) => {
      const { examples, ...schema } = s;
      if (Array.isArray(examples)) {
        const validate = ajv.compile(schema);
        for (const e of examples)
          assert.equal(validate(e), true, `${path}: example ${JSON.stringify(e)} is invalid`);
      }
      for (const [k, child] of Object.entries((s.properties as Record<string, Schema>) ?? {}))
        walk(child, `${path}.${k}`);
      if (s.items && typeof s.items === 'object') walk(s.items as Schema, `${path}[]`);
    };
    walk(root, 'config');
    assert.doesNotThrow(() => parseConfig(FULL_CONFIG));
  });

  it('spec prints resources/spec.json exactly', async () => {
    const r = await runConnector(['spec']);
    assert.equal(r.code, 0);
    const specs = r.messages.filter((m) => m.type === 'SPEC');
    assert.equal(specs.length, 1);
    assert.deepEqual(specs[0].spec, spec);
  });
});

describe('stream schemas', () => {
  const ajv = new Ajv({ strict: false });
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const schemas = new Map(
    STREAMS.map((s) => [
      s,
      JSON.parse(readRepoFile('resources', 'schemas', `${s}.json`)) as Schema,
    ]),
  );

  for (const [name, schema] of schemas) {
    it(`${name}: a valid Draft-7 schema with no $ref, allOf or not, and open objects`, () => {
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
      assert.equal(ajv.validateSchema(schema), true, ajv.errorsText(ajv.errors));
      assert.doesNotThrow(() => ajv.compile(schema));
      const text = JSON.stringify(schema);
      for (const k of ['"$ref"', '"allOf"', '"not"']) assert.equal(text.includes(k), false, k);
      assert.equal(text.includes('"additionalProperties":false'), false);
      // CAT: any additionalProperties, at any depth, is true (a schema there is refused too).
      assert.deepEqual(SPEC_RULES.additionalPropertiesTrue(schema), []);
      for (const [field, p] of Object.entries(schema.properties as Record<string, Schema>)) {
        assert.equal(typeof p.description, 'string', `${name}.${field} has a description`);
        const types = Array.isArray(p.type) ? p.type : [p.type];
        if (p.format) assert.ok(['date', 'date-time'].includes(p.format as string));
        if (p.format) assert.ok(types.includes('string'));
      }
    });
  }

  it('discover: every stream, its primary key and cursor exist in its schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spdm-spec-'));
    try {
      const files = writeJsonFiles(dir, { 'config.json': FULL_CONFIG });
      const r = await runConnector(['discover', '--config', files['config.json']]);
      assert.equal(r.code, 0, r.stdout);
      const catalogs = r.messages.filter((m) => m.type === 'CATALOG');
      assert.equal(catalogs.length, 1);
      const streams = catalogs[0].catalog.streams as {
        name: string;
        json_schema: Schema;
        supported_sync_modes: string[];
        source_defined_primary_key: string[][];
        default_cursor_field: string[];
        source_defined_cursor: boolean;
      }[];
      assert.deepEqual(streams.map((s) => s.name).sort(), STREAMS);
      for (const s of streams) {
        assert.deepEqual(s.json_schema, schemas.get(s.name), `${s.name} discovers its schema file`);
        assert.deepEqual(s.supported_sync_modes, ['full_refresh', 'incremental']);
        assert.equal(s.source_defined_cursor, true);
        const at = (path: string[]) => {
          let node: Schema | undefined = s.json_schema;
          for (const part of path) node = (node?.properties as Record<string, Schema>)?.[part];
          return node;
        };
        const cursor = at(s.default_cursor_field);
        assert.ok(cursor, `${s.name}: cursor ${s.default_cursor_field.join('.')} is in the schema`);
        assert.ok(s.source_defined_primary_key.length > 0, `${s.name} has a primary key`);
        for (const pk of s.source_defined_primary_key) {
          const node = at(pk);
          assert.ok(node, `${s.name}: primary key ${pk.join('.')} is in the schema`);
          const types = Array.isArray(node.type) ? node.type : [node.type];
          assert.equal(types.includes('object') || types.includes('array'), false);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
