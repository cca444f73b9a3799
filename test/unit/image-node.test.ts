/**
 * CI's second test run on the Docker image's Node: the pinned Node (scripts/image-node/) is of the
 * Dockerfile's major and locked exactly, and .ci/run runs both test runs and fails if either fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDockerfile } from '../support/dockerfile';
import { readRepoFile, repoPath } from '../support/repo';

const manifest = JSON.parse(readRepoFile('scripts', 'image-node', 'package.json')) as {
  dependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
const lock = JSON.parse(readRepoFile('scripts', 'image-node', 'package-lock.json')) as {
  packages: Record<
    string,
    {
      version?: string;
      integrity?: string;
      hasInstallScript?: boolean;
      dependencies?: Record<string, string>;
    }
  >;
};
const version = manifest.dependencies.node;

describe("the Docker image's Node, for CI's second test run", () => {
  it("is one exact Node version, of the Dockerfile's major", () => {
    assert.deepEqual(Object.keys(manifest.dependencies), ['node']);
    assert.match(version, /^\d+\.\d+\.\d+$/, 'an exact version');
    const stages = parseDockerfile(readRepoFile('Dockerfile')).stages;
    assert.ok(stages.length > 0);
    for (const { from } of stages) {
      const major = /^node:(\d+)-/.exec(from)?.[1];
      assert.equal(major, version.split('.')[0], `${from} against node@${version}`);
    }
  });

  it('is locked with integrity, and only node may run its install script', () => {
    assert.equal(lock.packages[''].dependencies?.node, version);
    assert.equal(lock.packages['node_modules/node'].version, version);
    for (const [path, p] of Object.entries(lock.packages).filter(([path]) => path !== '')) {
      assert.match(p.integrity ?? '', /^sha512-/, `${path} has an integrity`);
      assert.equal(p.hasInstallScript === true, path === 'node_modules/node', path);
    }
    assert.deepEqual(manifest.allowScripts, { node: true });
  });
});

describe('.ci/run', () => {
  /**
   * Runs a copy of .ci/run beside a stand-in for the second run, with an `npm` on PATH that only
   * logs; `fail` names the runs that exit 1. Returns the exit code and the order of the steps.
   */
  function ci(fail: { npmTest?: boolean; imageNode?: boolean }): { code: number; log: string[] } {
    const root = mkdtempSync(join(tmpdir(), 'spdm-ci-'));
    try {
      const logFile = join(root, 'log');
      const stub = (path: string, name: string, failing: string) => {
        mkdirSync(join(root, path, '..'), { recursive: true });
        writeFileSync(
          join(root, path),
          `#!/usr/bin/env bash\necho "${name} $*" >> '${logFile}'\n${failing}\n`,
        );
        chmodSync(join(root, path), 0o755);
      };
      mkdirSync(join(root, '.ci'));
      copyFileSync(repoPath('.ci', 'run'), join(root, '.ci', 'run'));
      stub('bin/npm', 'npm', fail.npmTest ? '[ "$1" = test ] && exit 1; exit 0' : 'exit 0');
      stub('scripts/test-on-image-node.sh', 'image-node', `exit ${fail.imageNode ? 1 : 0}`);
      const r = spawnSync('bash', [join(root, '.ci', 'run')], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH}` },
      });
      const log = readFileSync(logFile, 'utf8').trim().split('\n');
      return {
        code: r.status ?? -1,
        log: log.map((l) => l.trim()).filter((l) => l !== 'npm --version'),
      };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  const steps = ['npm ci --no-audit --no-fund', 'npm run lint', 'npm test', 'image-node'];

  it('runs npm test, then the tests on the image Node, and passes when both pass', () => {
    assert.deepEqual(ci({}), { code: 0, log: steps });
  });

  it('fails when either run fails, and runs the second run also after the first failed', () => {
    assert.deepEqual(ci({ npmTest: true }), { code: 1, log: steps });
    assert.deepEqual(ci({ imageNode: true }), { code: 1, log: steps });
    assert.deepEqual(ci({ npmTest: true, imageNode: true }), { code: 1, log: steps });
  });
});
