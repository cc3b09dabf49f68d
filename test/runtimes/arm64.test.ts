/**
 * The linux-arm64 prebuilt addon, run: Debian's arm64 Node.js under qemu-user (unpacked by
 * scripts/arm64-node.sh into .cache/arm64-node) loads prebuilds/linux-arm64, trains every
 * parity case to the reference's results within the parity tolerance, and trains a wider
 * network to the same bits on 1 and 3 threads. Missing emulation skips this test locally and
 * fails it in CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectParityOutcome, PARITY_CASES, runParityCase, type ParityOutcome } from '../helpers/parity.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CI = process.env.CI === 'true';
const arm64Root = join(root, '.cache', 'arm64-node');
const addon = join(root, 'prebuilds', 'linux-arm64', 'mlpkit.glibc.node');
const qemu = spawnSync('qemu-aarch64-static', ['--version'], { encoding: 'utf8' }).status === 0;
const ready = qemu && existsSync(join(arm64Root, 'usr', 'bin', 'node')) && existsSync(addon);
if (CI && !ready) {
  throw new Error('the arm64 run needs qemu-user-static, scripts/arm64-node.sh .cache/arm64-node and npm run prebuilds (all in .ci/run)');
}

describe.skipIf(!ready)('the linux-arm64 addon on arm64 Node.js (qemu-user)', () => {
  it('loads, refuses a bad call with a named error, and trains every parity case as the reference does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpkit-arm64-'));
    const { build } = await import('esbuild');
    await build({
      entryPoints: [join(root, 'test', 'runtimes', 'arm64-program.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node18',
      logLevel: 'silent',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      outfile: join(dir, 'program.mjs'),
    });
    const run = spawnSync('qemu-aarch64-static', ['-L', arm64Root, join(arm64Root, 'usr', 'bin', 'node'), join(dir, 'program.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, MLPKIT_NATIVE_ADDON: addon },
      timeout: 300_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      arch: string;
      native: { available: boolean; isa?: string };
      refused: string;
      threadsAgree: boolean;
      outcomes: ParityOutcome[];
    };
    expect(report.arch).toBe('arm64');
    expect(report.native).toMatchObject({ available: true, isa: 'scalar' });
    expect(report.refused).toMatch(/^RangeError: x must be a non-empty matrix of whole rows of 3, got a Float32Array of length 7$/);
    expect(report.threadsAgree).toBe(true); // 1 and 3 threads, every call split: the same bits
    expect(report.outcomes).toHaveLength(PARITY_CASES.length);
    PARITY_CASES.forEach((parityCase, i) => {
      expectParityOutcome(report.outcomes[i]!, runParityCase(parityCase, 'js').outcome, `arm64 native, ${parityCase[0]}`);
    });
  }, 360_000);
});
