/**
 * The C++ GEMM harness (native/gemm/test_gemm.cc) as part of the suite: built with
 * native/gemm/run-tests.sh into a scratch directory and run. It reaches what the addon tests
 * cannot: every instruction set the CPU runs (not only the best one and scalar), the packed and
 * direct paths forced on every tile and cache-block edge, and the AVX2 packers against the
 * portable ones. It must exit 0 and report thousands of cases with no failure, and on Linux it
 * must run every instruction set that /proc/cpuinfo says this CPU has.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUN_TESTS = fileURLToPath(new URL('../native/gemm/run-tests.sh', import.meta.url));
const ISAS = ['scalar', 'avx2+fma', 'avx512'] as const;
type IsaName = (typeof ISAS)[number];
// Each ISA runs ~3700 cases today; a floor well below that still catches a harness whose
// loops silently stopped running.
const MIN_CASES_PER_ISA = 1000;
// A cold -O3 build of the harness takes ~8 s on an idle 2-core machine, with the suite's
// other files competing for the cores it can take several times that.
const HARNESS_TIMEOUT_MS = 300_000;

interface IsaResult {
  cases: number;
  failures: number;
}
interface HarnessReport {
  best: string | undefined;
  tested: Map<string, IsaResult>;
  skipped: string[];
  summary: { verdict: string; cases: number; failures: number } | undefined;
}

/** Parses what test_gemm prints: one line per ISA run or skipped, then PASS/FAIL with totals. */
function parseReport(stdout: string): HarnessReport {
  const tested = new Map<string, IsaResult>();
  for (const m of stdout.matchAll(/^([a-z0-9+]+) +(\d+) cases, (\d+) failures$/gm)) {
    tested.set(m[1]!, { cases: Number(m[2]), failures: Number(m[3]) });
  }
  const skipped = [...stdout.matchAll(/^skip (\S+): /gm)].map((m) => m[1]!);
  const total = /^(PASS|FAIL): (\d+) cases, (\d+) failures$/m.exec(stdout);
  return {
    best: /^best ISA on this CPU: (\S+)$/m.exec(stdout)?.[1],
    tested,
    skipped,
    summary: total ? { verdict: total[1]!, cases: Number(total[2]), failures: Number(total[3]) } : undefined,
  };
}

/** The ISAs the kernel reports for this CPU (Linux only; elsewhere unknown). */
function cpuIsas(): IsaName[] | undefined {
  if (process.platform !== 'linux' || !existsSync('/proc/cpuinfo')) return undefined;
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
  const isas: IsaName[] = ['scalar'];
  if (flags.has('avx2') && flags.has('fma')) isas.push('avx2+fma');
  if (flags.has('avx2') && flags.has('fma') && flags.has('avx512f')) isas.push('avx512');
  return isas;
}

describe.skipIf(process.platform === 'win32')('C++ GEMM harness (native/gemm/test_gemm.cc)', () => {
  let dir = '';
  let run: SpawnSyncReturns<string>;
  let report: HarnessReport;
  const output = (): string => `${run.stdout}\n${run.stderr}`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlpkit-gemm-harness-'));
    run = spawnSync('bash', [RUN_TESTS], {
      encoding: 'utf8',
      env: { ...process.env, GEMM_BUILD_DIR: dir },
      timeout: HARNESS_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    });
    report = parseReport(run.stdout ?? '');
  }, HARNESS_TIMEOUT_MS + 10_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds and exits with status 0', () => {
    expect(run.error, output()).toBeUndefined();
    expect(run.signal, output()).toBeNull();
    expect(run.status, output()).toBe(0);
  });

  it('reports PASS with thousands of cases and no failure', () => {
    expect(report.summary, output()).toBeDefined();
    const { verdict, cases, failures } = report.summary!;
    expect(failures, output()).toBe(0);
    expect(verdict).toBe('PASS');
    expect(cases).toBeGreaterThanOrEqual(MIN_CASES_PER_ISA * report.tested.size);
  });

  it('runs every ISA it does not skip, each with many cases and no failure', () => {
    expect([...report.tested.keys(), ...report.skipped].sort(), output()).toEqual([...ISAS].sort());
    expect(report.tested.has('scalar')).toBe(true);
    expect(report.tested.has(report.best ?? '')).toBe(true);
    let sum = 0;
    for (const [isa, { cases, failures }] of report.tested) {
      expect(failures, `${isa}\n${output()}`).toBe(0);
      expect(cases, isa).toBeGreaterThanOrEqual(MIN_CASES_PER_ISA);
      sum += cases;
    }
    // The total also counts the packer checks that run after the per-ISA lines.
    expect(report.summary?.cases ?? 0).toBeGreaterThanOrEqual(sum);
  });

  it.runIf(cpuIsas() !== undefined)('runs every ISA that /proc/cpuinfo reports', () => {
    for (const isa of cpuIsas()!) expect([...report.tested.keys()], output()).toContain(isa);
  });
});
