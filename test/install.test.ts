/**
 * mlpkit installed as a user installs it: from the packed tarball into fresh projects.
 *   - with install scripts blocked and no C++ compiler, make or python on PATH, the prebuilt
 *     native addon loads and trains;
 *   - a normal install uses the prebuild instead of compiling;
 *   - Node ESM `import` and CommonJS `require` both work;
 *   - TypeScript projects (moduleResolution node16 and bundler) type-check the README's API
 *     tour, snippet by snippet as written, against the published types, and no `@internal`
 *     name is published.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const npmCli = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const host = `${process.platform}-${process.arch}`;

let tarball = '';

/** A fresh project with mlpkit installed from the tarball. */
function project(name: string, npmArgs: string[], env: NodeJS.ProcessEnv = process.env): { dir: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), `mlpkit-${name}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `try-${name}`, version: '1.0.0', private: true, type: 'module' }));
  const result = spawnSync(process.execPath, [npmCli, 'install', tarball, '--prefer-offline', '--no-audit', '--no-fund', ...npmArgs], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...env, CI: '', npm_config_foreground_scripts: 'true' },
  });
  if (result.status !== 0) throw new Error(`npm install failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return { dir, log: result.stdout + result.stderr };
}

const TRAIN_XOR = `
const net = new m.MLP({ inputs: 2, layers: [{ units: 8, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }],
  optimizer: { type: 'adam', learningRate: 0.05 }, seed: 42, backend: 'native' });
net.fitSync([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0], { epochs: 500, batchSize: 4 });
console.log(JSON.stringify({ backends: m.listBackends(), backend: net.backend, classes: Array.from(net.predictClasses([[0, 0], [0, 1], [1, 0], [1, 1]])) }));`;

function run(dir: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const out = execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env });
  return JSON.parse(out.trim().split('\n').pop()!) as {
    backends: { name: string; available: boolean; isa?: string }[];
    backend: string;
    classes: number[];
  };
}

describe('installed from the packed tarball', () => {
  beforeAll(() => {
    // CI makes every prebuild before the tests; elsewhere this machine's one is made here, also
    // when the native sources changed after it was made.
    const prebuild = join(root, 'prebuilds', host, 'mlpkit.glibc.node');
    const built = existsSync(prebuild) ? statSync(prebuild).mtimeMs : 0;
    const sources = readdirSync(join(root, 'native'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => /\.(cc|h)$/.test(f) && !f.includes('build'),
    );
    if (sources.some((f) => statSync(join(root, 'native', f)).mtimeMs > built))
      execFileSync(process.execPath, [join(root, 'scripts', 'prebuilds.mjs'), '--host'], { cwd: root, stdio: 'inherit' });
    const packs = mkdtempSync(join(tmpdir(), 'mlpkit-pack-'));
    // --ignore-scripts: dist/ is already built, and `prepare` would build it again.
    const packed = JSON.parse(
      execFileSync(process.execPath, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', packs], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as { filename: string; files: { path: string }[] }[];
    tarball = join(packs, packed[0]!.filename);
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain(`prebuilds/${host}/mlpkit.glibc.node`);
    expect(files).toContain('dist/node.d.ts');
  }, 300_000);

  it('ships the linux-arm64 prebuild as an arm64 shared object (CI makes it; elsewhere when the cross-compiler was there)', () => {
    const arm64 = join(root, 'prebuilds', 'linux-arm64', 'mlpkit.glibc.node');
    if (!process.env.CI && !existsSync(arm64)) return;
    const elf = readFileSync(arm64);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(elf.readUInt16LE(16)).toBe(3); // ET_DYN: a shared object
    expect(elf.readUInt16LE(18)).toBe(183); // EM_AARCH64
    expect(elf.includes('napi_register_module_v1')).toBe(true);
  });

  it('with install scripts blocked and no compiler, make or python, the prebuilt addon trains', () => {
    // PATH holds node alone: no g++, cc, make or python3 can be found.
    const bin = mkdtempSync(join(tmpdir(), 'mlpkit-bin-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { HOME: process.env.HOME, PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME!, '.npm') };
    for (const tool of ['g++', 'cc', 'make', 'python3']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, tool).not.toBe(0);
    }
    const { dir } = project('no-compiler', ['--ignore-scripts'], env);
    expect(existsSync(join(dir, 'node_modules', 'mlpkit', 'build'))).toBe(false);
    const result = run(dir, ['--input-type=module', '-e', `import * as m from 'mlpkit';${TRAIN_XOR}`], env);
    expect(result.backends.find((b) => b.name === 'native')).toMatchObject({ available: true });
    expect(result.backend).toBe('native');
    expect(result.classes).toEqual([0, 1, 1, 0]);
  }, 300_000);

  it('a normal install takes the prebuild instead of compiling, and CommonJS require works too', () => {
    const { dir, log } = project('normal', []);
    expect(log).toMatch(/using the prebuilt native addon prebuilds\/linux-x64\/mlpkit\.glibc\.node/);
    expect(existsSync(join(dir, 'node_modules', 'mlpkit', 'build'))).toBe(false);
    const esm = run(dir, ['--input-type=module', '-e', `import * as m from 'mlpkit';${TRAIN_XOR}`]);
    const cjs = run(dir, ['--input-type=commonjs', '-e', `const m = require('mlpkit');${TRAIN_XOR}`]);
    expect(esm.classes).toEqual([0, 1, 1, 0]);
    expect(cjs).toEqual(esm);
  }, 300_000);

  it("type-checks the README's API tour against the published types (node16 and bundler), with no @internal names", () => {
    const { dir } = project('types', ['--ignore-scripts']);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const tour = readme.slice(readme.indexOf('## API tour'), readme.indexOf('## Command line'));
    const snippets = [...tour.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(snippets.length).toBeGreaterThan(8);
    // What the snippets take as given, as the README's prose introduces it.
    const given = `import type * as mlpkit from 'mlpkit';
declare global {
  const MLP: typeof mlpkit.MLP;
  const MLPClassifier: typeof mlpkit.MLPClassifier;
  const net: mlpkit.MLP;
  const x: number[][];
  const y: number[];
  const X: number[][];
  const xTrain: number[][];
  const xBatch: number[][];
  const yBatch: number[];
  const labels: string[];
  const indicators: number[][];
  const clf: mlpkit.MLPClassifier;
  const parts: { X: number[][]; y: string[] }[];
  const layers: mlpkit.LayerWeights[];
  const estimator: mlpkit.EstimatorSpec;
  const grid: { alpha: number[] };
  function writeFileSync(path: string, data: Uint8Array): void;
  function readFileSync(path: string): Uint8Array;
}
export {};
`;
    // Only what runs in Node (the comment says so, or it imports a Node-only name) needs the node condition.
    const nodeOnly = (code: string) => /\/\/ Node\b|compareBackends|startTrialWorker|writeFileSync/.test(code);
    for (const mode of ['node16', 'bundler'] as const) {
      const src = join(dir, mode);
      mkdirSync(src);
      writeFileSync(join(src, 'given.d.ts'), given);
      snippets.forEach((code, i) => {
        if (mode === 'bundler' && nodeOnly(code)) return;
        writeFileSync(join(src, `snippet-${i}.ts`), `${code}\nexport {};\n`);
      });
      const compilerOptions = {
        strict: true,
        noEmit: true,
        target: 'es2022',
        lib: ['es2022', 'dom'],
        module: mode === 'node16' ? 'node16' : 'esnext',
        moduleResolution: mode,
        typeRoots: [join(root, 'node_modules', '@types')],
        types: mode === 'node16' ? ['node'] : [],
        skipLibCheck: false,
      };
      writeFileSync(join(dir, `tsconfig.${mode}.json`), JSON.stringify({ compilerOptions, include: [`${mode}/*.ts`] }));
      const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${mode}.json`], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(tsc.stdout, `tsc (${mode})`).toBe('');
      expect(tsc.status).toBe(0);
    }
    // Names marked @internal in the sources stay out of the published declarations.
    const internal = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        [
          ...readFileSync(join(root, 'src', f), 'utf8').matchAll(
            /@internal[\s\S]*?\*\/\s*(?:static\s+|export\s+)?(?:get\s+|set\s+)?(?:function\s+|const\s+|class\s+)?(\w+)/g,
          ),
        ].map((m) => m[1]!),
      );
    expect(internal.length).toBeGreaterThan(0);
    const published = readdirSync(join(dir, 'node_modules', 'mlpkit', 'dist'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.d.ts'))
      .map((f) => readFileSync(join(dir, 'node_modules', 'mlpkit', 'dist', f), 'utf8'))
      .join('\n');
    for (const name of internal) expect(published, name).not.toMatch(new RegExp(`\\b${name}\\b`));
  }, 300_000);
});
