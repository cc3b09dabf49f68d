#!/usr/bin/env node
// What an edge bundle of mlpkit weighs, gzipped at level 9 as a CDN or a Workers upload would
// compress it, each JavaScript part bundled and minified by esbuild:
//   - an edge worker that loads, runs and trains models (`import { MLP, initWasm }`): what a
//     bundler keeps of the universal entry for it, plus the SIMD module it fetches (the target);
//   - every export of the universal entry (src/index.ts), plus the SIMD module;
//   - the inline entry (src/inline.ts: the universal entry with both modules embedded as
//     base64), which is all a page needs.
// Run `npm run build:wasm` first.
//
//   node scripts/size.mjs            prints the table
//   node scripts/size.mjs --json     prints the numbers as JSON
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { build } = await import('esbuild');

for (const file of ['mlpkit-simd.wasm', 'mlpkit-scalar.wasm', 'modules-base64.js']) {
  const path = join(root, 'dist', 'wasm', file);
  if (!existsSync(path)) {
    console.error(`mlpkit: ${path} is missing; run npm run build:wasm first`);
    process.exit(1);
  }
}

/** An entry (a file of src/, or code importing it) bundled and minified for any runtime; it must import nothing from Node. */
async function bundle(entry, name) {
  const result = await build({
    ...(entry.endsWith('.ts')
      ? { entryPoints: [join(root, 'src', entry)] }
      : { stdin: { contents: entry, resolveDir: join(root, 'src') } }),
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    metafile: true,
  });
  const nodeImports = Object.values(result.metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((i) => i.path.startsWith('node:') || i.external);
  if (nodeImports.length > 0) {
    console.error(`mlpkit: the ${name} imports ${nodeImports.map((i) => i.path).join(', ')}; it must import nothing from Node`);
    process.exit(1);
  }
  return result.outputFiles[0].contents;
}

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
// An edge worker that loads, runs and trains models: what it imports is what it carries.
const worker = await bundle("export { MLP, initWasm } from './index.ts';", 'edge worker');
const js = await bundle('index.ts', 'universal entry');
const rows = [
  { file: 'edge worker: { MLP, initWasm } (bundled, minified)', bytes: worker.length, gzipped: gzip(worker) },
  { file: 'universal entry, every export', bytes: js.length, gzipped: gzip(js) },
];
for (const build of ['simd', 'scalar']) {
  const bytes = readFileSync(join(root, 'dist', 'wasm', `mlpkit-${build}.wasm`));
  rows.push({ file: `mlpkit-${build}.wasm`, bytes: bytes.length, gzipped: gzip(bytes) });
}
const inline = await bundle('inline.ts', 'inline entry');
rows.push({ file: 'inline entry (module bytes embedded)', bytes: inline.length, gzipped: gzip(inline) });
const simd = rows.find((r) => r.file === 'mlpkit-simd.wasm').gzipped;
const total = rows[0].gzipped + simd;
const everything = rows[1].gzipped + simd;
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ rows, edgeBundleGzipped: total, universalBundleGzipped: everything }, null, 2));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  for (const row of rows) console.log(`${row.file.padEnd(52)} ${kb(row.bytes).padStart(9)} ${kb(row.gzipped).padStart(9)} gzipped`);
  console.log(
    `${'edge bundle: edge worker + mlpkit-simd.wasm'.padEnd(52)} ${''.padStart(9)} ${kb(total).padStart(9)} gzipped (target 40 KB)`,
  );
  console.log(
    `${'every export of the universal entry + mlpkit-simd.wasm'.padEnd(52)} ${''.padStart(9)} ${kb(everything).padStart(9)} gzipped`,
  );
}
