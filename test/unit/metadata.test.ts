/**
 * metadata.yaml: valid against Airbyte's ConnectorMetadataDefinitionV0 schema (a copy in
 * test/fixtures/airbyte/), and in agreement with the Dockerfile, package.json, the spec and the docs.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { last, parseDockerfile, stageValues } from '../support/dockerfile';
import { readRepoFile, repoPath } from '../support/repo';

interface Metadata {
  metadataSpecVersion: string;
  data: {
    name: string;
    definitionId: string;
    connectorType: string;
    connectorSubtype: string;
    dockerRepository: string;
    dockerImageTag: string;
    documentationUrl: string;
    githubIssueLabel: string;
    license: string;
    releaseStage: string;
    supportLevel: string;
    releaseDate: string;
    tags: string[];
    maxSecondsBetweenMessages: number;
    allowedHosts: { hosts: string[] };
    resourceRequirements: {
      jobSpecific: { jobType: string; resourceRequirements: { memory_limit?: string } }[];
    };
  };
}

/** Parsed as YAML's JSON schema, as Airbyte's tooling does: `2023-08-31` stays a string. */
const metadata = yaml.load(readRepoFile('metadata.yaml'), { schema: yaml.JSON_SCHEMA }) as Metadata;
const data = metadata.data;
const pkg = JSON.parse(readRepoFile('package.json')) as {
  name: string;
  version: string;
  license: string;
};
const spec = JSON.parse(readRepoFile('resources', 'spec.json')) as {
  documentationUrl: string;
  connectionSpecification: {
    properties: Record<
      string,
      { maximum?: number; properties?: Record<string, { default?: string }> }
    >;
  };
};

/** Airbyte's allowedHosts matching: `*.example.com` is any subdomain of example.com. */
function allowed(host: string, hosts: string[]): boolean {
  return hosts.some((h) =>
    h.startsWith('*.') ? host.endsWith(h.slice(1)) && host.length > h.length - 1 : host === h,
  );
}

function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  assert.ok(m, `memory quantity ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe('metadata.yaml', () => {
  it("is valid against Airbyte's ConnectorMetadataDefinitionV0", () => {
    const schema = JSON.parse(
      readRepoFile('test', 'fixtures', 'airbyte', 'ConnectorMetadataDefinitionV0.validation.json'),
    ) as object;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date', /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
    ajv.addFormat(
      'date-time',
      /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i,
    );
    ajv.addFormat('uri', /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#]+[^\s]*$/i);
    ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    const validate = ajv.compile(schema);
    assert.equal(validate(metadata), true, ajv.errorsText(validate.errors, { separator: '\n' }));
    // The schema does reject what it should: an unknown key and a bad enum value.
    assert.equal(validate({ ...metadata, data: { ...data, registries: {} } }), false);
    assert.equal(validate({ ...metadata, data: { ...data, connectorSubtype: 'rest' } }), false);
    assert.equal(validate({ ...metadata, data: { ...data, definitionId: 'not-a-uuid' } }), false);
  });

  it('describes this connector: an API source in TypeScript, MIT', () => {
    assert.equal(metadata.metadataSpecVersion, '1.0');
    assert.equal(data.connectorType, 'source');
    assert.equal(data.connectorSubtype, 'api');
    assert.ok(data.tags.includes('language:typescript'));
    assert.equal(data.license, pkg.license);
    assert.equal(data.githubIssueLabel, pkg.name);
    assert.equal(data.dockerRepository, `airbyte/${pkg.name}`);
    assert.match(data.releaseDate, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(['alpha', 'beta', 'generally_available'].includes(data.releaseStage));
    assert.equal(data.supportLevel, 'community');
  });

  it("agrees with package.json's version and the Dockerfile's labels, heap and entrypoint", () => {
    assert.equal(data.dockerImageTag, pkg.version);
    const docker = parseDockerfile(readRepoFile('Dockerfile'));
    const runtime = docker.stages[docker.stages.length - 1];
    const labels = stageValues(runtime, 'LABEL');
    assert.equal(labels.get('io.airbyte.name'), data.dockerRepository);
    assert.equal(labels.get('io.airbyte.version'), data.dockerImageTag);
    assert.ok(last(runtime, 'ENTRYPOINT'));
    const heap = Number(
      /--max-old-space-size=(\d+)/.exec(stageValues(runtime, 'ENV').get('NODE_OPTIONS') ?? '')![1],
    );
    const sync = data.resourceRequirements.jobSpecific.find((j) => j.jobType === 'sync');
    assert.ok(sync?.resourceRequirements.memory_limit, 'a memory limit for syncs');
    const limit = mebibytes(sync.resourceRequirements.memory_limit);
    assert.ok(
      heap <= limit * 0.8,
      `heap ${heap} MiB leaves a fifth of ${limit} MiB outside the heap`,
    );
  });

  it('points to the docs page that the spec points to, and that page exists', () => {
    assert.equal(data.documentationUrl, spec.documentationUrl);
    const m = /\/blob\/main\/(.+)$/.exec(data.documentationUrl);
    assert.ok(m, 'a link into this repository');
    assert.ok(existsSync(repoPath(m[1])), `${m[1]} exists`);
    assert.match(readRepoFile(m[1]), new RegExp(`^# ${data.name}\\n`));
  });

  it('allows the hosts of every default API URL', () => {
    const props = spec.connectionSpecification.properties;
    const defaults = ['apns', 'onesignal', 'pushwoosh'].map(
      (p) => props[p].properties!.api_url.default as string,
    );
    assert.equal(defaults.length, 3);
    for (const url of defaults) {
      const host = new URL(url).hostname;
      assert.ok(allowed(host, data.allowedHosts.hosts), `${host} is allowed`);
    }
    assert.ok(
      allowed('onesignal-data.onesignal.com', data.allowedHosts.hosts),
      'OneSignal export files',
    );
    assert.ok(
      allowed('static.pushwoosh.com', data.allowedHosts.hosts),
      'Pushwoosh tracking-log files',
    );
    assert.equal(allowed('evil.example.com', data.allowedHosts.hosts), false);
    assert.equal(new Set(data.allowedHosts.hosts).size, data.allowedHosts.hosts.length);
  });

  it('maxSecondsBetweenMessages covers the longest export wait the spec allows', () => {
    const maxMinutes = spec.connectionSpecification.properties.export_timeout_minutes.maximum!;
    assert.equal(maxMinutes, 720);
    assert.ok(Number.isInteger(data.maxSecondsBetweenMessages));
    assert.ok(data.maxSecondsBetweenMessages >= maxMinutes * 60 + 30 * 60, 'plus retry waits');
    assert.ok(
      data.maxSecondsBetweenMessages <= 24 * 3600,
      'a hung sync is still noticed within a day',
    );
  });
});
