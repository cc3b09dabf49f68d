#!/usr/bin/env node
// Builds the WebAssembly backend from assembly/ with AssemblyScript: one source, two builds,
// chosen at load time by whether the runtime validates a SIMD module.
//   dist/wasm/mlpkit-simd.wasm     v128 SIMD kernels
//   dist/wasm/mlpkit-scalar.wasm   the same code with every SIMD branch compiled out
// Flags (asconfig.json): --runtime stub (a bump allocator that never frees: each model owns an
// instance and its arena), -O3, --noAssert. The built files ship in the package, so installing
// mlpkit never needs the compiler.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => console.log(`mlpkit: ${line}`);

let asc;
try {
  asc = (await import('assemblyscript/asc')).default;
} catch (error) {
  console.error(`mlpkit: the AssemblyScript compiler is not installed (${error.message.split('\n')[0]}); run npm install first`);
  process.exit(1);
}
const version = JSON.parse(readFileSync(join(root, 'node_modules', 'assemblyscript', 'package.json'), 'utf8')).version;
log(`building the WebAssembly backend with AssemblyScript ${version}`);

const config = JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8'));
for (const target of Object.keys(config.targets)) {
  const outFile = join(root, config.targets[target].outFile);
  mkdirSync(dirname(outFile), { recursive: true });
  const started = performance.now();
  const { error } = await asc.main(['assembly/index.ts', '--config', 'asconfig.json', '--target', target, '--baseDir', root], {
    stdout: process.stdout,
    stderr: process.stderr,
  });
  if (error) {
    console.error(`mlpkit: the ${target} build failed: ${error.message}`);
    process.exit(1);
  }
  const bytes = readFileSync(outFile);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(
    `${relative(root, outFile)}: ${statSync(outFile).size.toLocaleString('en')} bytes, ${gzipSync(bytes, { level: 9 }).length.toLocaleString('en')} gzipped (${seconds} s)`,
  );
}
