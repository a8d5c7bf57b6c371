#!/usr/bin/env node
// Installs npm dependencies when node_modules is missing or older than package-lock.json, so the README's
// two commands work on a fresh clone. Plain CommonJS with no dependencies: it runs before they exist.
const { execSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.talon-lock-hash');
const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');

if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) process.exit(0);
console.log('[talon] installing npm dependencies (npm ci)…');
const started = Date.now();
// onnxruntime-node's install script fetches GPU binaries from a host that is not reachable; the CPU build ships in the package.
execSync('npm ci --no-audit --no-fund', {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' },
});
writeFileSync(stamp, hash);
console.log(`[talon] dependencies installed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
