import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// Compiled code lives in lib/src/, so the repository (or installed package) root is two levels up.
const ROOT = join(__dirname, '..', '..');

function resourcePath(...parts: string[]): string {
  return join(ROOT, 'resources', ...parts);
}

export function readJsonResource<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(resourcePath(...parts), 'utf8')) as T;
}
