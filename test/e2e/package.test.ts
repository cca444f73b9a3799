/**
 * The Docker image, without Docker (CI has no engine): the Dockerfile's facts, then a rehearsal
 * of what it does on the host: `npm pack` of the built project, the production-only install of
 * the tarball exactly as the Dockerfile runs it, and spec, check, discover and read through the
 * image's AIRBYTE_ENTRYPOINT, started the way the platform starts it (`sh -c 'eval …'`, from
 * another working directory).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_APNS_TEAM,
  DEFAULT_ONESIGNAL_APPS,
  DEFAULT_PUSHWOOSH_ACCOUNT,
} from '../../emulator/fixtures';
import { runConnector, type RunResult, writeJsonFiles } from '../../emulator/harness';
import { Emulator } from '../../emulator/server';
import {
  type Dockerfile,
  execForm,
  last,
  parseDockerfile,
  type Stage,
  stageValues,
} from '../support/dockerfile';
import { readRepoFile, REPO_ROOT } from '../support/repo';
import { FAST_ENV, protocolProblems, schemaProblems } from '../support/e2e';

const pkg = JSON.parse(readRepoFile('package.json')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};

/** Where the image keeps Node and the code; replaced by their local stand-ins. */
const IMAGE_NODE = '/usr/local/bin/node';
const IMAGE_CODE = '/airbyte/integration_code';

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('Docker image (Dockerfile facts, then a rehearsal of its build and entrypoint)', () => {
  let docker: Dockerfile;
  let runtime: Stage;
  let build: Stage;
  let env: Map<string, string>;
  let entrypoint: string[];

  before(() => {
    docker = parseDockerfile(readRepoFile('Dockerfile'));
    runtime = docker.stages[docker.stages.length - 1];
    build = docker.stages[0];
    env = stageValues(runtime, 'ENV');
    entrypoint = execForm(last(runtime, 'ENTRYPOINT')!);
  });

  it('is multi-stage on a Node LTS slim base, the same base for every stage', () => {
    assert.ok(docker.stages.length >= 2, 'a build stage and a runtime stage');
    assert.equal(build.name, 'build');
    for (const stage of docker.stages) {
      const m = /^node:(\d+)-(\w+)-slim(@sha256:[0-9a-f]{64})?$/.exec(stage.from);
      assert.ok(m, `${stage.from} is not node:<major>-<debian>-slim`);
      const major = Number(m[1]);
      // LTS lines are the even majors up to 26; from 27 on every major becomes LTS.
      assert.ok(major >= 22 && (major % 2 === 0 || major >= 27), `Node ${major} is no LTS line`);
      assert.ok(major >= Number(/(\d+)/.exec(pkg.engines.node)![1]), 'within package.json engines');
    }
    assert.equal(new Set(docker.stages.map((s) => s.from)).size, 1);
    // The runtime stage takes only the installed package from the build stage.
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY');
    assert.deepEqual(
      copies.map((c) => c.args),
      [`--from=build ${IMAGE_CODE} ${IMAGE_CODE}`],
    );
  });

  it('builds with npm run build, packs, and installs the tarball with production dependencies only', () => {
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const all = runs.join('\n');
    assert.match(all, /npm ci\b/);
    assert.match(all, /npm run build/);
    assert.match(all, /npm pack --pack-destination \/build\/pack/);
    const install = runs.find((r) => r.includes('--omit=dev'));
    assert.ok(install, 'a RUN with npm ci --omit=dev');
    assert.match(
      install,
      /tar -xzf \/build\/pack\/source-push-delivery-metrics-\*\.tgz --strip-components=1/,
    );
    assert.match(install, /cp \/build\/package-lock\.json \.\/package-lock\.json/);
    assert.match(install, /npm ci --omit=dev --ignore-scripts --no-audit --no-fund/);
    assert.equal(last(build, 'WORKDIR')?.args, IMAGE_CODE, 'the install runs in the code folder');
    // Nothing in the runtime stage installs or builds anything.
    for (const r of runtime.instructions.filter((i) => i.keyword === 'RUN'))
      assert.doesNotMatch(r.args, /npm (ci|install)|tsc/);
    const ignore = readRepoFile('.dockerignore').split('\n');
    for (const p of ['node_modules', 'lib', 'secrets', '.git'])
      assert.ok(ignore.includes(p), `.dockerignore lists ${p}`);
  });

  it('runs as the non-root user airbyte with a writable /airbyte', () => {
    assert.equal(last(runtime, 'USER')?.args, 'airbyte');
    const userIdx = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    const setup = runtime.instructions
      .slice(0, userIdx)
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join('\n');
    assert.match(setup, /useradd --uid 1000 --gid airbyte .*airbyte/);
    assert.match(setup, /groupadd --gid 1000 airbyte/);
    assert.match(setup, /mkdir -p \/airbyte\b/);
    assert.match(setup, /chown airbyte:airbyte \/airbyte\b/);
    // The code is copied in before USER, so root owns it and the connector cannot change it.
    const copyIdx = runtime.instructions.findIndex((i) => i.keyword === 'COPY');
    assert.ok(copyIdx < userIdx);
  });

  it('AIRBYTE_ENTRYPOINT equals the ENTRYPOINT, with absolute paths to node and the package bin', () => {
    assert.equal(env.get('AIRBYTE_ENTRYPOINT'), entrypoint.join(' '));
    assert.deepEqual(entrypoint, [
      IMAGE_NODE,
      `${IMAGE_CODE}/${pkg.bin['source-push-delivery-metrics']}`,
    ]);
    for (const part of entrypoint) assert.ok(part.startsWith('/'), `${part} is absolute`);
  });

  it('labels the image with metadata.yaml values and sizes the heap for the container', () => {
    const labels = stageValues(runtime, 'LABEL');
    const metadata = readRepoFile('metadata.yaml');
    const repo = /^\s*dockerRepository:\s*(\S+)\s*$/m.exec(metadata)![1];
    const tag = /^\s*dockerImageTag:\s*(\S+)\s*$/m.exec(metadata)![1];
    assert.equal(labels.get('io.airbyte.name'), repo);
    assert.equal(labels.get('io.airbyte.version'), tag);
    assert.equal(labels.get('io.airbyte.version'), pkg.version);
    const heap = /--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS') ?? '');
    assert.ok(heap, 'NODE_OPTIONS sets --max-old-space-size');
    const limitMi = Number(/memory_limit:\s*(\d+)Gi/.exec(metadata)![1]) * 1024;
    assert.ok(Number(heap[1]) <= limitMi * 0.8, 'the heap leaves room for non-heap memory');
    assert.ok(Number(heap[1]) >= 256);
  });

  describe('rehearsal: npm pack, production install, then the entrypoint', () => {
    const work = mkdtempSync(join(tmpdir(), 'spdm-package-'));
    const codeDir = join(work, 'airbyte', 'integration_code');
    const jobDir = join(work, 'job');
    let emu: Emulator;
    let tarball: string;
    const outputs: RunResult[] = [];

    /** Runs `<AIRBYTE_ENTRYPOINT> <args>` as the platform does: sh -c 'eval …', in the job folder. */
    const platformRun = async (args: string[], files: Record<string, unknown> = {}) => {
      const paths = writeJsonFiles(jobDir, files);
      const argv = args.map((a) => (a.startsWith('@') ? paths[a.slice(1)] : a));
      const script = `eval "$AIRBYTE_ENTRYPOINT ${argv.map(shQuote).join(' ')}"`;
      const local = entrypoint
        .join(' ')
        .replace(IMAGE_NODE, process.execPath)
        .replace(IMAGE_CODE, codeDir);
      const r = await runConnector([], {
        command: ['/bin/sh', '-c', script],
        cwd: jobDir,
        env: {
          ...FAST_ENV,
          AIRBYTE_ENTRYPOINT: local,
          NODE_OPTIONS: env.get('NODE_OPTIONS') ?? '',
        },
      });
      outputs.push(r);
      return r;
    };

    before(async () => {
      emu = await Emulator.start({
        apns: { processingPolls: 1 },
        pushwoosh: { pendingPolls: 1 },
        onesignal: { recordsPerSecond: 1_000_000, rateLimitWindowMs: 5 },
      });
      mkdirSync(jobDir, { recursive: true });
    });

    after(async () => {
      await emu.close();
      const secrets = [
        ...Object.values(DEFAULT_APNS_TEAM.tokens),
        ...DEFAULT_ONESIGNAL_APPS.map((a) => a.apiKey),
        DEFAULT_PUSHWOOSH_ACCOUNT.apiToken,
      ];
      for (const r of outputs)
        for (const s of secrets)
          assert.equal(r.stdout.includes(s!) || r.stderr.includes(s!), false, 'a secret leaked');
      rmSync(work, { recursive: true, force: true });
    });

    it('npm pack holds only bin/, lib/src/, resources/ and the package files', () => {
      const out = JSON.parse(
        sh('npm', ['pack', '--json', '--pack-destination', work], REPO_ROOT),
      ) as { filename: string; files: { path: string }[] }[];
      tarball = join(work, out[0].filename);
      assert.equal(out[0].filename, `${pkg.name}-${pkg.version}.tgz`);
      const files = out[0].files.map((f) => f.path);
      for (const f of files) {
        assert.ok(
          /^(bin\/|lib\/src\/|resources\/)/.test(f) ||
            ['package.json', 'README.md', 'LICENSE'].includes(f),
          `unexpected file in the package: ${f}`,
        );
      }
      for (const must of [
        pkg.bin['source-push-delivery-metrics'],
        'lib/src/main.js',
        'resources/spec.json',
        ...readdirSync(join(REPO_ROOT, 'resources', 'schemas')).map(
          (s) => `resources/schemas/${s}`,
        ),
      ])
        assert.ok(files.includes(must), `${must} is packed`);
    });

    it('installs with production dependencies only, as the Dockerfile does', () => {
      mkdirSync(codeDir, { recursive: true });
      const started = Date.now();
      sh('tar', ['-xzf', tarball, '--strip-components=1', '-C', codeDir], work);
      copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(codeDir, 'package-lock.json'));
      // --prefer-offline: the project's own `npm ci` has put every pinned version in the cache.
      sh(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
        codeDir,
      );
      const installed = readdirSync(join(codeDir, 'node_modules')).filter(
        (n) => !n.startsWith('.'),
      );
      for (const dep of Object.keys(pkg.dependencies))
        assert.ok(existsSync(join(codeDir, 'node_modules', dep)), `${dep} is installed`);
      for (const dev of Object.keys(pkg.devDependencies))
        assert.equal(existsSync(join(codeDir, 'node_modules', dev)), false, `${dev} is not`);
      const kib = Number(sh('du', ['-sk', codeDir], work).split(/\s/)[0]);
      const modulesKib = Number(
        sh('du', ['-sk', join(codeDir, 'node_modules')], work).split(/\s/)[0],
      );
      console.log(
        `installed size: ${(kib / 1024).toFixed(1)} MiB (${kib} KiB; node_modules ${(modulesKib / 1024).toFixed(1)} MiB, ${installed.length} top-level packages), installed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      assert.ok(kib < 50 * 1024, 'the installed package stays small');
    });

    let config: Record<string, unknown>;
    it('spec through the entrypoint equals resources/spec.json', async () => {
      const r = await platformRun(['spec']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(protocolProblems(r), []);
      const specs = r.messages.filter((m) => m.type === 'SPEC');
      assert.equal(specs.length, 1);
      assert.deepEqual(specs[0].spec, JSON.parse(readRepoFile('resources', 'spec.json')));
      assert.equal(r.stderr, '');
    });

    it('check through the entrypoint succeeds against the emulator', async () => {
      config = {
        apns: {
          team_id: DEFAULT_APNS_TEAM.teamId,
          bundle_id: DEFAULT_APNS_TEAM.bundleId,
          delivery_metrics_token: DEFAULT_APNS_TEAM.tokens.deliverymetrics,
          broadcast_app_token: DEFAULT_APNS_TEAM.tokens.broadcastapplicationmetric,
          broadcast_channel_token: DEFAULT_APNS_TEAM.tokens.broadcastchannelmetrics,
          channel_ids: DEFAULT_APNS_TEAM.channelIds.slice(0, 1),
          api_url: emu.apiUrl,
        },
        onesignal: {
          apps: DEFAULT_ONESIGNAL_APPS.map((a) => ({ app_id: a.appId, api_key: a.apiKey })),
          api_url: emu.apiUrl,
        },
        pushwoosh: {
          api_token: DEFAULT_PUSHWOOSH_ACCOUNT.apiToken,
          application_code: DEFAULT_PUSHWOOSH_ACCOUNT.applicationCode,
          api_url: emu.apiUrl,
        },
      };
      const r = await platformRun(['check', '--config', '@connectorConfig.json'], {
        'connectorConfig.json': config,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(protocolProblems(r), []);
      const status = r.messages.filter((m) => m.type === 'CONNECTION_STATUS');
      assert.deepEqual(
        status.map((m) => m.connectionStatus),
        [{ status: 'SUCCEEDED' }],
      );
    });

    it('discover and read through the entrypoint: every stream syncs', async () => {
      const d = await platformRun(['discover', '--config', '@connectorConfig.json'], {
        'connectorConfig.json': config,
      });
      assert.equal(d.code, 0, d.stderr);
      const catalog = d.messages.find((m) => m.type === 'CATALOG')!.catalog as {
        streams: { name: string; json_schema: object }[];
      };
      const names = catalog.streams.map((s) => s.name).sort();
      assert.deepEqual(
        names,
        readdirSync(join(REPO_ROOT, 'resources', 'schemas'))
          .map((f) => f.replace(/\.json$/, ''))
          .sort(),
      );
      const configured = {
        streams: catalog.streams.map((stream) => ({
          stream,
          sync_mode: 'incremental',
          destination_sync_mode: 'append_dedup',
        })),
      };
      // The platform's file names; --state is left out when there is no state.
      const r = await platformRun(
        ['read', '--config', '@connectorConfig.json', '--catalog', '@catalog.json'],
        { 'connectorConfig.json': config, 'catalog.json': configured },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(protocolProblems(r), []);
      assert.deepEqual(schemaProblems(catalog, r), []);
      for (const name of names) {
        const records = r.messages.filter((m) => m.type === 'RECORD' && m.record.stream === name);
        const states = r.messages.filter(
          (m) => m.type === 'STATE' && m.state.stream.stream_descriptor.name === name,
        );
        const statuses = r.messages
          .filter(
            (m) =>
              m.type === 'TRACE' &&
              m.trace.type === 'STREAM_STATUS' &&
              m.trace.stream_status.stream_descriptor.name === name,
          )
          .map((m) => m.trace.stream_status.status as string);
        assert.ok(records.length > 0, `${name} has records`);
        assert.ok(states.length > 0, `${name} has states`);
        assert.deepEqual([statuses[0], statuses.at(-1)], ['STARTED', 'COMPLETE'], name);
      }
      console.log(
        `read through the entrypoint: ${r.messages.filter((m) => m.type === 'RECORD').length} records, ${r.messages.filter((m) => m.type === 'STATE').length} states in ${r.seconds.toFixed(1)} s`,
      );
    });
  });
});
