/**
 * The native addon under AddressSanitizer and UndefinedBehaviorSanitizer: a build with
 * -fsanitize=address,undefined (in a scratch directory, beside the normal one) runs a workload
 * over every entry point of the native backend; any report fails the test. It takes a couple of
 * minutes, so it runs in CI and when MLPKIT_SANITIZE=1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const wanted = process.env.MLPKIT_SANITIZE === '1' || !!process.env.CI;

describe.runIf(wanted && process.platform === 'linux')('native addon under ASan + UBSan', () => {
  it('runs every entry point of the native backend with no sanitizer report', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'mlpkit-sanitize-'));
    cpSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
    cpSync(join(root, 'native'), join(scratch, 'native'), {
      recursive: true,
      filter: (src) => !src.includes(`${join('native', 'gemm', 'build')}`),
    });
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
    const flags = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g';
    execFileSync(
      process.execPath,
      [join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild', `--nodedir=${dirname(dirname(process.execPath))}`],
      {
        cwd: scratch,
        stdio: 'pipe',
        env: { ...process.env, CXXFLAGS: flags, CFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' },
      },
    );
    const addon = join(scratch, 'build', 'Release', 'mlpkit.node');
    expect(existsSync(addon)).toBe(true);
    // Node itself is not instrumented: the runtime is preloaded, and leaks (Node's own, at exit) are not checked.
    const runtime = execFileSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'fixtures', 'sanitize', 'workload.ts')], {
      cwd: root,
      encoding: 'utf8',
      env: {
        ...process.env,
        LD_PRELOAD: runtime,
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:exitcode=86',
        UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
        MLPKIT_NATIVE_ADDON: addon,
        MLPKIT_FORCE_THREADS: '1',
      },
      timeout: 600_000,
    });
    const reports = run.stderr.split('\n').filter((line) => /AddressSanitizer|runtime error:|LeakSanitizer/.test(line));
    expect(reports, run.stderr.slice(0, 4000)).toEqual([]);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    expect(run.stdout.trim().split('\n').pop()).toBe('done');
  }, 900_000);
});
