#!/usr/bin/env node
// `npm run prebuilds`: the N-API builds of the native addon that ship inside the package, in
// prebuilds/<platform>-<arch>/, where node-gyp-build finds them at run time:
//
//   linux-x64    built here with the portable flags of binding.gyp: baseline x86-64, the AVX2 and
//                AVX-512 kernels compiled per function and chosen at run time from the CPU
//   linux-arm64  cross-compiled with Debian's g++-aarch64-linux-gnu (the portable scalar kernels)
//
// One N-API build serves every Node version from 20 on. Headers come from the running Node's own
// include directory, so nothing is downloaded. Without the cross-compiler the arm64 build is
// skipped with a warning (in CI, where every build must be made, it is an error).
//
//   node scripts/prebuilds.mjs           both
//   node scripts/prebuilds.mjs --host    only this machine's platform and architecture
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');
const ci = process.env.CI === 'true' || process.env.CI === '1';
const log = (line) => console.log(`mlpkit: ${line}`);

const nodedir = dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`mlpkit: this Node has no headers in ${join(nodedir, 'include', 'node')}; prebuilds are made with a Node that ships them`);
  process.exit(1);
}
const onPath = (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

const targets = [{ arch: process.arch, env: {} }];
if (!process.argv.includes('--host') && process.platform === 'linux' && process.arch === 'x64') {
  const cross = 'aarch64-linux-gnu';
  if (onPath(`${cross}-g++`)) {
    targets.push({
      arch: 'arm64',
      env: { CC: `${cross}-gcc`, CXX: `${cross}-g++`, LINK: `${cross}-g++`, AR: `${cross}-ar` },
      stripBin: `${cross}-strip`,
    });
  } else if (ci) {
    console.error(`mlpkit: ${cross}-g++ is missing (Debian: apt-get install g++-${cross}); CI makes every prebuild`);
    process.exit(1);
  } else {
    log(`${cross}-g++ not found: skipping the linux-arm64 prebuild (Debian: apt-get install g++-${cross})`);
  }
}

for (const target of targets) {
  const folder = join(root, 'prebuilds', `${process.platform}-${target.arch}`);
  rmSync(folder, { recursive: true, force: true });
  log(`building prebuilds/${process.platform}-${target.arch}`);
  const started = Date.now();
  // prebuildify hands node-gyp this process's environment: node-gyp reads the headers from
  // npm_config_nodedir instead of downloading them, and the compilers from CC, CXX and LINK.
  const saved = { ...process.env };
  Object.assign(process.env, { npm_config_nodedir: nodedir, ...target.env });
  await new Promise((resolve, reject) =>
    prebuildify(
      {
        cwd: root,
        napi: true,
        targets: [`node@${process.versions.node}`],
        arch: target.arch,
        tagLibc: true,
        strip: true,
        ...(target.stripBin ? { stripBin: target.stripBin } : {}),
        quiet: !process.env.MLPKIT_VERBOSE,
      },
      (error) => (error ? reject(error) : resolve()),
    ),
  ).catch((error) => {
    console.error(`mlpkit: the ${target.arch} prebuild failed: ${error.message}`);
    process.exit(1);
  });
  process.env = saved;
  log(`  ${readdirSync(folder).join(', ')} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
// A cross build leaves build/ with foreign objects: rebuild the host's own addon next time.
if (targets.length > 1) rmSync(join(root, 'build'), { recursive: true, force: true });
