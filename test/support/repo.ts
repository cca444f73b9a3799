import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root, from a compiled test under lib/test/<folder>/. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');

export const repoPath = (...parts: string[]): string => join(REPO_ROOT, ...parts);

export const readRepoFile = (...parts: string[]): string =>
  readFileSync(repoPath(...parts), 'utf8');
