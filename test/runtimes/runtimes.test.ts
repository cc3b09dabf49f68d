/**
 * The WebAssembly backend in real runtimes: headless Chromium (playwright-core, files served
 * from 127.0.0.1 with a CSP that forbids eval and no cross-origin isolation), Cloudflare's
 * workerd (miniflare, the module imported as CompiledWasm), Deno and Bun. Each one runs
 * program.ts, bundled with the universal entry by esbuild: wasm is reported uninitialized
 * until initWasm, then XOR and a softmax network train on it and match the JavaScript
 * reference, and `mlpkit/onnx` writes and reads the XOR network's ONNX model (protobufjs
 * without eval). A runtime that is missing skips its test locally and fails it in CI.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium, pageOutcome, serveFiles } from '../helpers/browser.js';
import type { RuntimeReport } from './program.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CI = process.env.CI === 'true';
const TIMEOUT = 180_000;
const wasmFiles = ['mlpkit-simd.wasm', 'mlpkit-scalar.wasm'];

const runtimes = {
  chromium: findChromium(),
  deno: join(root, 'node_modules', '.bin', 'deno'),
  bun: join(root, 'node_modules', '.bin', 'bun'),
};
const miniflareInstalled = existsSync(join(root, 'node_modules', 'miniflare', 'package.json'));

let dir = '';

beforeAll(async () => {
  if (!wasmFiles.every((f) => existsSync(join(root, 'dist', 'wasm', f)))) {
    const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { cwd: root, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`building the WebAssembly module failed:\n${built.stdout}${built.stderr}`);
  }
  dir = mkdtempSync(join(tmpdir(), 'mlpkit-runtimes-'));
  // The bundle sits three levels below the folder holding dist/wasm/, as dist/backends/wasm/loader.js
  // does in the package, so the default URL of initWasm() finds the module next to it.
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(root, 'test', 'runtimes', 'program.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
    outfile: join(dir, 'bundle', 'esm', 'main', 'program.js'),
  });
  mkdirSync(join(dir, 'dist', 'wasm'), { recursive: true });
  for (const file of wasmFiles) copyFileSync(join(root, 'dist', 'wasm', file), join(dir, 'dist', 'wasm', file));
  const script = (runtime: string) =>
    `import { run } from './bundle/esm/main/program.js';\nconsole.log(JSON.stringify(await run('${runtime}')));\n`;
  writeFileSync(join(dir, 'deno.mjs'), script('deno'));
  writeFileSync(join(dir, 'bun.mjs'), script('bun'));
  writeFileSync(
    join(dir, 'index.html'),
    [
      '<!doctype html><meta charset="utf-8"><title>mlpkit</title>',
      '<script type="module">',
      "import { run } from './bundle/esm/main/program.js';",
      "try { window.report = { ...(await run('chromium')), isolated: self.crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer !== 'undefined' }; }",
      'catch (error) { window.failure = String(error && error.stack || error); }',
      '</script>',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'worker.mjs'),
    [
      "import wasm from './dist/wasm/mlpkit-simd.wasm';",
      "import { run } from './bundle/esm/main/program.js';",
      'export default {',
      '  async fetch() {',
      "    try { return Response.json(await run('workerd', wasm)); }",
      '    catch (error) { return new Response(String(error && error.stack || error), { status: 500 }); }',
      '  },',
      '};',
    ].join('\n'),
  );
}, TIMEOUT);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The assertions every runtime must pass, with the runtime named in each message. */
function checkReport(report: RuntimeReport): void {
  const name = report.runtime;
  console.log(
    `${name}: trained on ${report.xor.backend} (${report.isa}); XOR ${report.xor.predictions.map((p) => p.toFixed(3)).join(' ')}, ` +
      `max |wasm − js| ${report.xor.maxDiff.toExponential(1)}; softmax accuracy ${report.softmax.accuracy.toFixed(2)}, max |wasm − js| ${report.softmax.maxDiff.toExponential(1)}`,
  );
  expect(report.wasmBefore.available, `${name}: wasm before initWasm`).toBe(false);
  expect(report.wasmBefore.reason, `${name}: reason before initWasm`).toMatch(/call await initWasm\(\) first/);
  expect(report.refusalBefore, `${name}: backend 'wasm' before initWasm`).toMatch(/the wasm backend is not available: .*initWasm/);
  expect(report.autoBefore, `${name}: 'auto' before initWasm`).toBe('js');
  expect(report.isa, `${name}: build`).toBe(report.simd ? 'simd128' : 'scalar');
  expect(report.wasmAfter, `${name}: wasm after initWasm`).toMatchObject({ available: true, isa: report.isa, threads: 1 });
  for (const net of [report.xor, report.softmax]) {
    expect(net.backend, `${name}: backend that trained`).toBe('wasm');
    expect(net.mismatch, `${name}: wasm vs the reference`).toBeUndefined();
    expect(net.compared).toBeGreaterThan(10);
  }
  expect(report.xor.classes, `${name}: XOR classes`).toEqual([0, 1, 1, 0]);
  expect(report.softmax.accuracy, `${name}: softmax accuracy`).toBeGreaterThanOrEqual(0.8);
  expect(report.onnx, `${name}: XOR through toONNX and MLP.fromONNX`).toEqual({
    bytes: expect.any(Number),
    sameWeights: true,
    samePredictions: true,
  });
  expect(report.onnx.bytes, `${name}: ONNX bytes`).toBeGreaterThan(200);
}

/** A missing runtime skips locally and fails in CI, where every runtime must be present. */
function requireRuntime(name: string, present: boolean): void {
  if (!present) throw new Error(`${name} is not installed, and CI requires every runtime of the wasm tests`);
}

function runScript(command: string, args: string[], env: Record<string, string>): RuntimeReport {
  const result = spawnSync(command, args, { cwd: dir, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, NO_COLOR: '1', ...env } });
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RuntimeReport;
}

describe('the wasm backend in real runtimes', () => {
  it.skipIf(!CI && !existsSync(runtimes.deno))(
    'Deno: initWasm() fetches the module next to the bundle',
    () => {
      requireRuntime('deno', existsSync(runtimes.deno));
      // Only --allow-read (to fetch the module from disk): without --allow-env the registry's read
      // of MLPKIT_BACKEND is refused, and mlpkit must carry on with its automatic choice.
      checkReport(
        runScript(runtimes.deno, ['run', '--allow-read', '--no-prompt', join(dir, 'deno.mjs')], {
          DENO_DIR: join(dir, 'deno-cache'),
          DENO_NO_UPDATE_CHECK: '1',
        }),
      );
    },
    TIMEOUT,
  );

  it.skipIf(!CI && !existsSync(runtimes.bun))(
    'Bun: initWasm() fetches the module next to the bundle',
    () => {
      requireRuntime('bun', existsSync(runtimes.bun));
      checkReport(runScript(runtimes.bun, [join(dir, 'bun.mjs')], { DO_NOT_TRACK: '1' }));
    },
    TIMEOUT,
  );

  it.skipIf(!CI && !miniflareInstalled)(
    'Cloudflare workerd (miniflare): the worker imports the module as CompiledWasm',
    async () => {
      requireRuntime('miniflare', miniflareInstalled);
      const { Miniflare } = await import('miniflare');
      const mf = new Miniflare({
        host: '127.0.0.1',
        port: 0,
        compatibilityDate: '2025-01-01',
        modulesRoot: dir,
        modules: [
          { type: 'ESModule', path: join(dir, 'worker.mjs') },
          { type: 'ESModule', path: join(dir, 'bundle', 'esm', 'main', 'program.js') },
          { type: 'CompiledWasm', path: join(dir, 'dist', 'wasm', 'mlpkit-simd.wasm') },
        ],
      });
      try {
        const response = await mf.dispatchFetch('http://127.0.0.1/');
        const body = await response.text();
        if (!response.ok) throw new Error(`the worker failed (${response.status}): ${body}`);
        checkReport(JSON.parse(body) as RuntimeReport);
      } finally {
        await mf.dispose();
      }
    },
    TIMEOUT,
  );

  it.skipIf(!CI && !runtimes.chromium)(
    'headless Chromium: a page without eval or cross-origin isolation',
    async () => {
      requireRuntime('chromium (or MLPKIT_CHROMIUM)', runtimes.chromium !== '');
      // No eval or new Function (wasm compilation is allowed by its own keyword); no COOP/COEP.
      const server = await serveFiles(dir, {
        'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
      });
      const browser = await launchChromium(runtimes.chromium);
      try {
        const outcome = await pageOutcome(browser, `${server.origin}/index.html`, TIMEOUT);
        if (outcome.failure || !outcome.report) throw new Error(`the page failed: ${outcome.failure ?? outcome.errors.join('\n')}`);
        const report = outcome.report as RuntimeReport & { isolated: boolean };
        expect(report.isolated, 'chromium: the page must not need cross-origin isolation').toBe(false);
        checkReport(report);
      } finally {
        await browser.close();
        await server.close();
      }
    },
    TIMEOUT,
  );
});
