import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signalAndWait, until, watch } from '../support/child';

const CHILD = join(__dirname, '..', 'support', 'shutdown-child.js');

describe('shutdown: real signals to a child process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spdm-shutdown-test-'));
  let n = 0;
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function started(mode?: string) {
    const marker = join(dir, `cleaned-${++n}`);
    const child = watch([process.execPath, CHILD, marker, ...(mode ? [mode] : [])]);
    await until('the child to be ready', () => child.stderr().includes('ready\n'));
    return { child, marker };
  }

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: logs once, aborts, runs every registered cleanup, exits ${code}`, async () => {
      const { child, marker } = await started();
      const r = await signalAndWait(child, signal);
      assert.equal(r.code, code);
      assert.ok(r.seconds < 2, `${r.seconds} s`);
      const lines = child.stderr().split('\n');
      assert.deepEqual(
        lines.filter((l) => l.startsWith('log: ')),
        [`log: Received ${signal}: stopping the sync and removing temporary files.`],
      );
      assert.ok(lines.includes('aborted'));
      assert.equal(readFileSync(marker, 'utf8'), 'cleaned', 'a failing cleanup did not stop it');
      assert.equal(existsSync(`${marker}.unregistered`), false, 'an unregistered cleanup ran');
    });
  }

  it('a cleanup that hangs holds the exit for 3 s at most', async () => {
    const { child, marker } = await started('hang');
    const r = await signalAndWait(child, 'SIGTERM');
    assert.equal(r.code, 143);
    assert.ok(r.seconds >= 2.9 && r.seconds < 8, `${r.seconds} s`);
    assert.equal(readFileSync(marker, 'utf8'), 'cleaned');
  });

  it('a second signal exits at once', async () => {
    const { child } = await started('hang');
    process.kill(child.proc.pid!, 'SIGTERM');
    await until('the abort', () => child.stderr().includes('aborted\n'));
    const r = await signalAndWait(child, 'SIGINT');
    assert.equal(r.code, 130);
    assert.ok(r.seconds < 1.5, `${r.seconds} s`);
  });

  it('stdout closed by its reader: one line on stderr, no stack, exit 141', async () => {
    const { child, marker } = await started('write');
    await until('a line on stdout', () => child.stdout().includes('\n'));
    child.proc.stdout!.destroy();
    const { code } = await child.exit;
    assert.equal(code, 141);
    assert.match(
      child.stderr(),
      /^ready\nstdout was closed \(EPIPE\): stopping the sync\.\naborted\n$/,
    );
    assert.equal(readFileSync(marker, 'utf8'), 'cleaned');
  });
});
