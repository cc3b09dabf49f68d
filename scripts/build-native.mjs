#!/usr/bin/env node
// The install script of `npm install` / `npm ci`: makes sure a native addon is there.
//
//   1. A prebuilt addon in prebuilds/<platform>-<arch>/ that loads here (N-API, so one build
//      serves every Node from 20 on): nothing to build, no compiler needed.
//   2. Otherwise, or when asked (`npm install --build-from-source`, MLPKIT_BUILD_FROM_SOURCE=1,
//      or `npm run build:native`), it compiles with node-gyp into build/Release.
//
// A failed build never fails the install: mlpkit then runs on its other backends and says so
// when a model is created. In CI (CI=true) a failed build is an error, because every backend
// must be present there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const log = (line) => console.log(`mlpkit: ${line}`);
const truthy = (value) => value !== undefined && value !== '' && value !== 'false' && value !== '0';

if (process.env.MLPKIT_SKIP_NATIVE_BUILD) {
  log('MLPKIT_SKIP_NATIVE_BUILD is set: not building the native addon');
  process.exit(0);
}
const fromSource =
  process.argv.includes('--build-from-source') ||
  truthy(process.env.npm_config_build_from_source) ||
  truthy(process.env.MLPKIT_BUILD_FROM_SOURCE);
if (!fromSource) {
  // Loaded in a child process, so that a prebuild that crashes on load cannot take npm with it.
  const probe = spawnSync(
    process.execPath,
    ['-e', 'const p = require("node-gyp-build").path(process.argv[1]); require(p).info(); console.log(p)', root],
    { cwd: root, encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '1' } },
  );
  if (probe.status === 0) {
    log(`using the prebuilt native addon ${probe.stdout.trim().slice(root.length + 1)}`);
    process.exit(0);
  }
  const reason =
    probe.stderr
      .trim()
      .split('\n')
      .find((line) => /Error/.test(line)) ?? 'none matches';
  log(`no prebuilt native addon loads on ${process.platform}-${process.arch} (${reason}); compiling it`);
}

let nodeGyp = process.env.npm_config_node_gyp; // the node-gyp npm ships, when run by npm
if (!nodeGyp || !existsSync(nodeGyp)) {
  try {
    nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    nodeGyp = undefined;
  }
}
try {
  log(`found node-addon-api ${require('node-addon-api/package.json').version}`);
} catch {
  fail('node-addon-api is not installed');
}
if (!nodeGyp) fail('node-gyp was not found (it ships with npm; or install it: npm install -D node-gyp@12)');
const args = [nodeGyp, 'rebuild'];
// Build against the running Node's own headers when it ships them, rather than downloading.
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
log(`building the native addon with ${nodeGyp}`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) fail(`node-gyp rebuild exited with ${result.status ?? result.signal}`);
log('native addon built: build/Release/mlpkit.node');

function fail(reason) {
  const message =
    `could not build the native addon: ${reason}.\n` +
    '  mlpkit works without it, on its WebAssembly or JavaScript backend.\n' +
    '  To build it: install python3, make and a C++17 compiler, then run `npm rebuild mlpkit --foreground-scripts`.';
  if (process.env.CI === 'true' || process.env.CI === '1') {
    console.error(`mlpkit: ${message}\n  (CI is set: every backend must build, so this install fails.)`);
    process.exit(1);
  }
  console.warn(`mlpkit: ${message}`);
  process.exit(0);
}
