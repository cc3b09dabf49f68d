import { expect } from 'vitest';

/**
 * Asserts |got − want| ≤ max(atol, rtol·|want|) element-wise, with a message naming the
 * label, the index, both values and the tolerance.
 */
export function expectClose(
  got: ArrayLike<number> | number,
  want: ArrayLike<number> | number,
  { atol = 1e-6, rtol = 1e-6, label = 'value' }: { atol?: number; rtol?: number; label?: string } = {},
): void {
  const g = typeof got === 'number' ? [got] : Array.from(got);
  const w = typeof want === 'number' ? [want] : Array.from(want);
  expect(g.length, `${label}: length`).toBe(w.length);
  for (let i = 0; i < w.length; i++) {
    const tol = Math.max(atol, rtol * Math.abs(w[i]!));
    const diff = Math.abs(g[i]! - w[i]!);
    if (!(diff <= tol)) {
      expect.fail(`${label}[${i}]: expected ${w[i]}, got ${g[i]}, |Δ| = ${diff.toExponential(2)} > tol ${tol.toExponential(2)}`);
    }
  }
}
