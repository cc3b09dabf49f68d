/** The edge bundle stays within its budget: an edge worker importing MLP and initWasm, plus the SIMD module, at most 40 KB gzipped. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('edge bundle size', () => {
  it('an edge worker with the SIMD module is at most 40 KB gzipped, and every part imports nothing from Node', () => {
    const root = new URL('..', import.meta.url).pathname;
    const report = JSON.parse(execFileSync(process.execPath, ['scripts/size.mjs', '--json'], { cwd: root, encoding: 'utf8' })) as {
      rows: { file: string; gzipped: number }[];
      edgeBundleGzipped: number;
      universalBundleGzipped: number;
    };
    expect(report.edgeBundleGzipped).toBeLessThanOrEqual(40 * 1024);
    expect(report.edgeBundleGzipped).toBeGreaterThan(20 * 1024); // the module alone is about 16 KB
    expect(report.universalBundleGzipped).toBeGreaterThan(report.edgeBundleGzipped);
    expect(report.rows.map((r) => r.file)).toContain('inline entry (module bytes embedded)');
  });
});
