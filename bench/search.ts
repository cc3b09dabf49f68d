/**
 * Model selection at scale: a 16-trial grid search with 5-fold cross-validation of an
 * MLPClassifier on the shipped digits data (80 trainings), timed
 *   - in this thread (with the default native threads, and with one), and on as many worker
 *     threads as there are cores;
 *   - through BullMQ on a Redis server started here, with one and with two `mlpkit worker`
 *     processes.
 * Every run is checked to give the in-thread table before it is timed.
 *
 *   npm run bench:search
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { loadDigits } from '../examples/digits-data.js';
import { gridSearch, type SearchResults } from '../dist/node.js';
import { startRedis } from '../test/helpers/redis.js';
import { banner, measure, type Case, type Result } from './common.js';

const GROUP = 'grid search, 16 parameter sets × 5 folds (digits)';
// scikit-learn's defaults (at most 200 epochs, stopping when the loss stalls), as a user would start.
const estimator = { kind: 'MLPClassifier' as const, options: {} };
const grid = { alpha: [1e-4, 1e-2], hiddenLayerSizes: [[32], [64]], learningRateInit: [1e-3, 3e-3], batchSize: [32, 64] };

/** Starts `mlpkit worker` processes on the queue; resolves once each says it is running. */
async function startWorkers(url: string, queue: string, count: number, threads: number): Promise<ChildProcess[]> {
  const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ChildProcess>((resolve, reject) => {
          const child = spawn(process.execPath, [cli, '--threads', String(threads), 'worker', '--redis', url, '--queue', queue], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          child.stdout!.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('running trials')) resolve(child);
          });
          child.once('exit', (code) => reject(new Error(`mlpkit worker exited with ${code}`)));
        }),
    ),
  );
}

export async function searchBench(): Promise<{ results: Result[]; speedups: Record<string, number> }> {
  const { X, y } = loadDigits();
  const cores = availableParallelism();
  const search = (options: object) => gridSearch({ estimator, grid, X, y, folds: 5, ...options });
  let samples = 0;
  const reference = await search({ workers: 1, onProgress: (p: { samples: number }) => (samples = p.samples) });
  const same = (found: SearchResults<object>) => {
    if (JSON.stringify(found) !== JSON.stringify(reference)) throw new Error('the table differs from the run in this thread');
  };
  const redis = await startRedis();
  const workers: ChildProcess[] = [];
  try {
    const executor = (queue: string) => ({ executor: { type: 'bullmq', connection: redis.url, queue } });
    const cases: Case[] = [
      { contender: 'this thread (workers: 1)', options: { workers: 1 } },
      {
        contender: 'this thread, 1 native thread',
        options: { workers: 1, estimator: { ...estimator, options: { ...estimator.options, threads: 1 } } },
      },
      { contender: `${cores} worker threads (workers: ${cores})`, options: { workers: cores } },
      { contender: 'Redis, 1 worker process', options: executor('one') },
      { contender: 'Redis, 2 worker processes', options: executor('two') },
    ].map(({ contender, options }) => ({
      name: `${GROUP}: ${contender}`,
      group: GROUP,
      contender,
      mlpkit: true,
      work: samples,
      unit: 'samples/s' as const,
      run: async () => {
        await search(options);
      },
      validate: async () => same(await search(options)),
    }));
    // One native thread per worker process: two processes share the cores as two worker threads do.
    workers.push(...(await startWorkers(redis.url, 'one', 1, 1)), ...(await startWorkers(redis.url, 'two', 2, 1)));
    const results = await measure(cases, { maxTime: 1, minSamples: 3 });
    const rate = (i: number) => results[i]!.median;
    const speedups = {
      [`${cores} worker threads vs this thread`]: rate(2) / rate(0),
      [`${cores} worker threads vs this thread on 1 native thread`]: rate(2) / rate(1),
      'Redis: 2 worker processes vs 1': rate(4) / rate(3),
    };
    return { results, speedups };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(banner());
  console.log(`\n${GROUP}`);
  const { speedups } = await searchBench();
  for (const [what, value] of Object.entries(speedups)) console.log(`  ${what}: ${value.toFixed(2)}×`);
}
