/** No import circles in src/ or emulator/ (`npm run cycles` prints them). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { cycles, importGraph } from '../../scripts/cycles';
import { repoPath } from '../support/repo';

describe('import circles', () => {
  it('src/ has none, type-only imports included', () => {
    const found = cycles(importGraph([repoPath('src')]));
    assert.deepEqual(
      found.map((c) => c.map((f) => relative(repoPath(), f))),
      [],
    );
  });

  it('emulator/ has none: vendors use the core, only server.ts and fixtures.ts gather them', () => {
    const found = cycles(importGraph([repoPath('emulator')]));
    assert.deepEqual(
      found.map((c) => c.map((f) => relative(repoPath(), f))),
      [],
    );
  });

  it('finds a circle through `import type`, and none in a chain', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-cycles-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B;\n");
      writeFileSync(join(dir, 'b.ts'), "import { c } from './c';\nexport type B = typeof c;\n");
      writeFileSync(join(dir, 'c.ts'), 'export const c = 1;\n');
      assert.deepEqual(cycles(importGraph([dir])), []);
      writeFileSync(join(dir, 'c.ts'), "import type { A } from './a';\nexport const c: A = 1;\n");
      assert.deepEqual(cycles(importGraph([dir])), [
        ['a.ts', 'b.ts', 'c.ts'].map((f) => join(dir, f)),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
