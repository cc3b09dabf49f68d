/**
 * Every benchmark suite, once, on tiny sizes: the bench code must not rot. Nothing here
 * asserts a speed; the cases' own checks (their loss falls, their results match the
 * reference) are what run.
 */
import { describe, expect, it } from 'vitest';
import { barChart, xyChart } from '../src/cli/plot.js';
import { measure, ratioMarkdown, ratios, type Case } from '../bench/common.js';
import { GEMM_SHAPES, gemmCases } from '../bench/gemm.js';
import { PEERS, peerCases, type PeerData, type Workload } from '../bench/peers.js';
import { batchScaling, memoryAcrossEpochs, trainingFlops, widthScaling } from '../bench/scaling.js';
import { eventLoopDelayDuringTraining, GROUPS, syntheticClasses, trainingCases, WORKLOADS, type Contender } from '../bench/train.js';
import { wasmGemmCases } from '../bench/wasm.js';

const TINY_SHAPE = [{ label: 'tiny 13×33×57', form: 'NT' as const, m: 13, n: 33, k: 57 }];

async function runOnce(cases: Case[]): Promise<void> {
  for (const c of cases) {
    await c.validate?.();
    await c.run();
  }
}

describe('benchmark suites on tiny sizes', () => {
  it('SGEMM cases of native and wasm validate against the reference and run', async () => {
    const cases = [...gemmCases([1, 2], 100, TINY_SHAPE), ...wasmGemmCases(TINY_SHAPE)];
    expect(cases.map((c) => c.name)).toEqual([
      'sgemm tiny 13×33×57, 1 thread',
      'sgemm tiny 13×33×57, 2 threads',
      'sgemm tiny 13×33×57, wasm simd',
      'sgemm tiny 13×33×57, wasm scalar',
    ]);
    await runOnce(cases);
    expect(GEMM_SHAPES.map((s) => s.label)).toContain('forward X·Wᵀ 64×512×784');
  });

  it('mlpkit training and inference cases learn, match the reference, and run on every backend', async () => {
    const fast: Contender[] = [
      { label: 'native 1 thread', backend: 'native', threads: 1 },
      { label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' },
      { label: 'wasm scalar', backend: 'wasm', wasmBuild: 'scalar' },
    ];
    const cases = [
      ...trainingCases(fast, { tiny: true }),
      ...trainingCases([{ label: 'js', backend: 'js' }], { tiny: true, workloads: ['W1', 'W2-infer-1'] }),
    ];
    expect(new Set(cases.map((c) => c.group))).toEqual(new Set(Object.values(GROUPS)));
    await runOnce(cases);
  });

  it('peer libraries learn the workloads they can run, and say why not otherwise', async () => {
    const data = (workload: Workload): PeerData =>
      workload === 'W1'
        ? {
            x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1),
            y: Float32Array.of(0, 1, 1, 0),
            rows: 4,
            inputs: 2,
            classes: 2,
            batchSize: 4,
            learningRate: 0.5,
          }
        : {
            ...syntheticClasses(8, WORKLOADS[workload].inputs, 10, 1),
            rows: 8,
            inputs: WORKLOADS[workload].inputs,
            classes: 10,
            batchSize: 8,
            learningRate: 0.01,
          };
    const { cases, skipped } = await peerCases(PEERS, GROUPS, data, { tiny: true, workloads: ['W1', 'W2-infer-1'] });
    expect(cases.map((c) => c.contender!.split(' ')[0])).toEqual(
      expect.arrayContaining(['tfjs', 'tfjs-backend-wasm', 'brain.js', 'ml-fnn', 'synaptic']),
    );
    expect(skipped).toEqual(
      expect.arrayContaining([expect.objectContaining({ contender: expect.stringMatching(/^ml-fnn/), group: GROUPS.W1 })]),
    );
    await runOnce(cases.filter((c) => c.group === GROUPS['W2-infer-1']));
    for (const c of cases.filter((c) => c.group === GROUPS.W1)) await c.run();
  });

  it('measures medians and builds the side-by-side tables and charts', async () => {
    const cases: Case[] = [
      { name: 'a', group: 'g', contender: 'mlpkit native 1 thread', mlpkit: true, work: 1, unit: 'samples/s', run: () => {} },
      {
        name: 'b',
        group: 'g',
        contender: 'peer',
        mlpkit: false,
        work: 1,
        unit: 'samples/s',
        run: async () => {},
        note: 'one row per update',
      },
    ];
    const results = await measure(cases, { maxTime: 0.05, minSamples: 2 });
    expect(results.every((r) => r.median > 0 && r.min <= r.median && r.median <= r.max)).toBe(true);
    const rows = ratios(results);
    expect(rows.find((r) => r.contender === 'mlpkit native 1 thread')!.vsNative).toBe(1);
    expect(rows.find((r) => r.contender === 'peer')!.vsFastestPeer).toBe(1);
    expect(ratioMarkdown(rows)).toMatch(
      /^\*\*g\*\*\n\n\| contender \| samples\/s \(median\)[\s\S]*\| peer \|[\s\S]*one row per update \|$/,
    );
    expect(
      barChart([{ name: 'g', bars: results.map((r) => ({ name: r.contender!, value: r.median })) }], { valueLabel: 'samples/s' }),
    ).toMatch(/^<svg[\s\S]*log scale[\s\S]*<\/svg>\n$/);
    expect(
      xyChart(
        [
          {
            name: 's',
            points: [
              [1, 2],
              [4, 8],
            ],
          },
        ],
        { logX: true },
      ),
    ).toMatch(/<polyline/);
  });

  it('scaling, memory and event-loop measurements run', async () => {
    const native: Contender = { label: 'native 1 thread', backend: 'native', threads: 1 };
    expect(trainingFlops(784, [512, 512, 10])).toBe(2 * (2 * (784 * 512 + 512 * 512 + 512 * 10) + 512 * 512 + 512 * 10));
    const batch = batchScaling([native], [4], 0.01);
    const width = widthScaling([native], [64], 0.01);
    expect(batch[0]!.samplesPerSecond).toBeGreaterThan(0);
    expect(width[0]!.gflops).toBeGreaterThan(0);
    const memory = memoryAcrossEpochs(native, 2);
    expect(memory.heapEpoch1).toBeGreaterThan(0);
    const delay = await eventLoopDelayDuringTraining(native, 1);
    expect(delay.p99).toBeGreaterThanOrEqual(0);
  });
});
