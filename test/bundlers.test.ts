/**
 * Zero-configuration bundling: a user's app that imports mlpkit, calls initWasm() and trains
 * XOR, bundled by esbuild, Vite and webpack with their default settings and run in headless
 * Chromium. The app installs the package as a user does, from the tarball `npm pack` makes, into
 * a folder of its own; each bundler runs there with no configuration file:
 *
 *   esbuild  esbuild app.js --bundle --format=esm --outdir=out   imports mlpkit/inline (the module
 *            is in the code: esbuild does not copy files named by new URL(…, import.meta.url))
 *   Vite     vite build                                         imports mlpkit; emits both .wasm files
 *   webpack  webpack --mode production (src/index.js → dist/)   imports mlpkit; emits both .wasm files
 *
 * The page must train on the wasm backend and classify XOR; the server's log shows which module
 * it fetched. esbuild with the default entry is the failure the bundler study started from: the
 * page must say which URL failed and how to load the module instead.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium, pageOutcome, serveFiles } from './helpers/browser.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));
const CI = process.env.CI === 'true';
const TIMEOUT = 120_000;
const chromium = findChromium();
const bin = (...path: string[]) => join(root, 'node_modules', ...path);

/** What the app's page reports. */
interface AppReport {
  backend: string;
  isa: string;
  predictions: number[];
  classes: number[];
}

/** The app, as a user writes it, importing the package from `entry`. */
const app = (entry: string) => `import { initWasm, MLP } from '${entry}';

async function main() {
  const { isa } = await initWasm();
  const net = new MLP({
    inputs: 2,
    layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }],
    optimizer: { type: 'adam', learningRate: 0.05 },
    seed: 3,
  });
  const x = [[0, 0], [0, 1], [1, 0], [1, 1]];
  await net.fit(x, [0, 1, 1, 0], { epochs: 300, batchSize: 4, validationSplit: 0 });
  const predictions = net.predict(x).map(([p]) => p);
  return { backend: net.backend, isa, predictions, classes: predictions.map((p) => Math.round(p)) };
}

main().then(
  (report) => { window.report = report; },
  (error) => { window.failure = String((error && error.message) || error); },
);
`;

let dir = '';
let browser: Browser | undefined;

/** Runs a bundler (the project's copy, from the app's folder, so it resolves mlpkit from the app's node_modules). */
async function bundle(cwd: string, command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { cwd, timeout: TIMEOUT, env: { ...process.env, NO_COLOR: '1' } });
  } catch (error) {
    const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`bundling in ${cwd} failed: ${message}\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

/** The .wasm files under a bundler's output folder. */
function wasmFiles(folder: string): string[] {
  return (readdirSync(folder, { recursive: true }) as string[]).filter((f) => f.endsWith('.wasm')).sort();
}

/** Serves `folder` as the site's root, opens `page` and returns what it reported, with the .wasm requests the server saw. */
async function load(folder: string, page: string) {
  const server = await serveFiles(folder);
  try {
    const outcome = await pageOutcome(browser!, `${server.origin}/${page}`, TIMEOUT);
    return { ...outcome, origin: server.origin, wasmRequests: server.requests.filter((r) => r.path.endsWith('.wasm')) };
  } finally {
    await server.close();
  }
}

function expectXor(outcome: Awaited<ReturnType<typeof load>>, name: string): AppReport {
  if (outcome.failure || !outcome.report) throw new Error(`${name}: the page failed: ${outcome.failure ?? outcome.errors.join('\n')}`);
  const report = outcome.report as AppReport;
  console.log(`${name}: trained on ${report.backend} (${report.isa}); XOR ${report.predictions.map((p) => p.toFixed(3)).join(' ')}`);
  expect(report.backend, `${name}: backend`).toBe('wasm');
  expect(report.isa, `${name}: build (Chromium has SIMD)`).toBe('simd128');
  expect(report.classes, `${name}: XOR classes`).toEqual([0, 1, 1, 0]);
  return report;
}

describe.skipIf(!CI && !chromium)('bundlers with their default settings', () => {
  beforeAll(async () => {
    if (!chromium) throw new Error('chromium is not installed (or MLPKIT_CHROMIUM), and CI requires it for the bundler tests');
    for (const file of ['dist/index.js', 'dist/inline.js', 'dist/wasm/mlpkit-simd.wasm', 'dist/wasm/modules-base64.js']) {
      if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run npm run build first`);
    }
    dir = mkdtempSync(join(tmpdir(), 'mlpkit-bundlers-'));
    // --ignore-scripts: packing would run prepare (the whole build); the test packs the dist/ the suite runs against.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, timeout: TIMEOUT });
    const tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run('npm', ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      timeout: TIMEOUT,
    });

    // One folder per app, all below the one node_modules.
    const write = (path: string, text: string) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    write('esbuild/app.js', app('mlpkit/inline'));
    write('esbuild/index.html', '<!doctype html><script type="module" src="out/app.js"></script>\n');
    write('esbuild-url/app.js', app('mlpkit'));
    write('esbuild-url/index.html', '<!doctype html><script type="module" src="out/app.js"></script>\n');
    write('vite/app.js', app('mlpkit'));
    write('vite/index.html', '<!doctype html><script type="module" src="/app.js"></script>\n');
    write('webpack/src/index.js', app('mlpkit'));
    write('webpack/index.html', '<!doctype html><script src="dist/main.js"></script>\n');
    browser = await launchChromium(chromium);
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'esbuild: mlpkit/inline carries the module in the code; the page fetches no .wasm file',
    async () => {
      const cwd = join(dir, 'esbuild');
      await bundle(cwd, bin('.bin', 'esbuild'), ['app.js', '--bundle', '--format=esm', '--outdir=out']);
      expect(wasmFiles(join(cwd, 'out')), 'esbuild output').toEqual([]);
      const outcome = await load(cwd, 'index.html');
      expectXor(outcome, 'esbuild');
      expect(outcome.wasmRequests, 'esbuild: .wasm requests').toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'Vite: vite build emits both modules; the page fetches the SIMD one',
    async () => {
      const cwd = join(dir, 'vite');
      await bundle(cwd, process.execPath, [bin('vite', 'bin', 'vite.js'), 'build']);
      const emitted = wasmFiles(join(cwd, 'dist'));
      expect(emitted, 'vite output').toEqual([
        expect.stringMatching(/^assets\/mlpkit-scalar-[\w-]+\.wasm$/),
        expect.stringMatching(/^assets\/mlpkit-simd-[\w-]+\.wasm$/),
      ]);
      const outcome = await load(join(cwd, 'dist'), 'index.html');
      expectXor(outcome, 'vite');
      expect(outcome.wasmRequests, 'vite: .wasm requests').toEqual([{ path: `/${emitted[1]}`, status: 200 }]);
    },
    TIMEOUT,
  );

  it(
    'webpack: webpack --mode production emits both modules; the page fetches the SIMD one',
    async () => {
      const cwd = join(dir, 'webpack');
      await bundle(cwd, process.execPath, [bin('webpack-cli', 'bin', 'cli.js'), '--mode', 'production']);
      const emitted = wasmFiles(join(cwd, 'dist'));
      expect(emitted, 'webpack output').toEqual([expect.stringMatching(/^[0-9a-f]+\.wasm$/), expect.stringMatching(/^[0-9a-f]+\.wasm$/)]);
      const outcome = await load(cwd, 'index.html');
      expectXor(outcome, 'webpack');
      expect(outcome.wasmRequests, 'webpack: .wasm requests').toEqual([
        { path: expect.stringMatching(/^\/dist\/[0-9a-f]+\.wasm$/), status: 200 },
      ]);
    },
    TIMEOUT,
  );

  it(
    'esbuild with the default entry: the page says which URL failed and how to load the module instead',
    async () => {
      const cwd = join(dir, 'esbuild-url');
      await bundle(cwd, bin('.bin', 'esbuild'), ['app.js', '--bundle', '--format=esm', '--outdir=out']);
      const outcome = await load(cwd, 'index.html');
      const url = `${outcome.origin}/dist/wasm/mlpkit-simd.wasm`;
      expect(outcome.report).toBeUndefined();
      expect(outcome.failure).toBe(
        `the WebAssembly module could not be fetched from ${url}: HTTP 404 Not Found\n` +
          "  to load it without this fetch: import { initWasm } from 'mlpkit/inline' (the module embedded in the code), " +
          'or pass the module: initWasm(bytes | URL | WebAssembly.Module | Response)',
      );
      expect(outcome.wasmRequests).toEqual([{ path: '/dist/wasm/mlpkit-simd.wasm', status: 404 }]);
    },
    TIMEOUT,
  );
});
