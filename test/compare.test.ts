import { describe, expect, it } from 'vitest';
import { compareBackends, listBackends } from '../src/node.js';

describe('compareBackends', () => {
  it('measures every available backend on the same model and data, and says why one is missing', async () => {
    const x = Array.from({ length: 256 }, (_, i) => [Math.sin(i), Math.cos(i * 0.3), (i % 7) / 7]);
    const y = x.map(([a, b]) => (a! + b! > 0 ? 1 : 0));
    const comparison = await compareBackends({
      model: {
        inputs: 3,
        layers: [
          { units: 32, activation: 'tanh' },
          { units: 1, activation: 'sigmoid' },
        ],
        optimizer: { type: 'adam', learningRate: 0.01 },
      },
      x,
      y,
      epochs: 2,
      batchSize: 16,
      paritySteps: 8,
      backends: ['native', 'wasm', 'js'],
    });
    const statuses = listBackends();
    expect(comparison.rows.map((r) => r.backend)).toEqual(['native', 'wasm', 'js']);
    for (const row of comparison.rows) {
      const status = statuses.find((s) => s.name === row.backend)!;
      expect(row.available).toBe(status.available);
      if (!row.available) {
        expect(row.reason).toBe(status.reason);
        continue;
      }
      expect(row.isa).toBe(status.isa);
      expect(row.samplesPerSecond).toBeGreaterThan(0);
      expect(row.maxWeightDifference).toBeLessThan(1e-4);
      if (row.backend === 'js') expect(row.maxWeightDifference).toBe(0);
      expect(row.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(row.peakMemoryBytes)).toBe(true);
    }
    const table = comparison.table();
    expect(table.split('\n')[0]).toMatch(/^backend\s+isa\s+threads\s+samples\/s\s+max \|Δw\| vs js\s+loop p99 ms\s+peak memory$/);
    expect(table.split('\n')).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(comparison))).toHaveLength(3);
  });

  it('checks its options', async () => {
    await expect(compareBackends({ model: undefined as never, x: [[1]], y: [1] })).rejects.toThrow(
      /model must be the options of an MLP, got undefined/,
    );
    await expect(
      compareBackends({ model: { inputs: 1, layers: [{ units: 1 }] }, x: [[1]], y: [1], backends: ['gpu' as never] }),
    ).rejects.toThrow(/backends\[0\] must be one of native, wasm, js, got "gpu"/);
    await expect(compareBackends({ model: { inputs: 1, layers: [{ units: 1 }] }, x: [[1]], y: [1], epochs: 0 })).rejects.toThrow(
      /epochs must be an integer >= 1, got 0/,
    );
  });
});
