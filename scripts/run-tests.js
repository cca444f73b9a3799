#!/usr/bin/env node
'use strict';
// Runs every compiled test file under lib/test with Node's built-in test runner.
// Node 20's `--test` takes no globs, so the files are listed here.
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
let files = find(join(__dirname, '..', 'lib', 'test')).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const res = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=180000', '--test-reporter=spec', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(res.status === null ? 1 : res.status);
