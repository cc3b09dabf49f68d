/**
 * Model selection through a BullMQ queue on a real Redis server, with real `mlpkit worker`
 * processes: the table equals the run in this thread, also when a worker is killed in the
 * middle of a trial (BullMQ's stalled-job check gives the trial to the other worker).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDigits } from '../examples/digits-data.js';
import { gridSearch, MLP, MLPClassifier, randomRestarts, startTrialWorker } from '../src/node.js';
import { startRedis } from './helpers/redis.js';

const root = new URL('..', import.meta.url).pathname;
const cli = ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];
const digits = loadDigits();
/** Trials of about a second on one core, so that a worker can be killed in the middle of one. */
const slow = { kind: 'MLPClassifier' as const, options: { hiddenLayerSizes: [256, 256], maxIter: 60, nIterNoChange: 1000 } };
const LOCK_MS = 2000;

interface Worker {
  process: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

function startWorker(url: string, queue: string): Promise<Worker> {
  const child = spawn(process.execPath, [...cli, 'worker', '--redis', url, '--queue', queue, '--lock-duration', String(LOCK_MS)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MLPKIT_FORCE_THREADS: '1' },
  });
  const worker: Worker = { process: child, log: [], exited: new Promise((resolve) => child.once('exit', resolve)) };
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    worker.log.push(...lines);
    child.emit('lines');
  });
  child.stderr!.on('data', (chunk: Buffer) => worker.log.push(`stderr: ${chunk}`));
  return new Promise((resolve, reject) => {
    const ready = () => {
      if (worker.log.some((l) => l.includes('running trials from the queue'))) resolve(worker);
      else if (worker.log.some((l) => l.startsWith('stderr'))) reject(new Error(worker.log.join('\n')));
      else child.once('lines', ready);
    };
    child.once('lines', ready);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${worker.log.join('\n')}`)));
  });
}

/** Runs the command line without blocking this process, whose own queue worker must go on. */
function mlpkit(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cli, ...args], { cwd: root, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ status: error ? ((error.code as number) ?? 1) : 0, stdout, stderr }),
    );
  });
}

const started = (w: Worker) => w.log.filter((l) => l.startsWith('started trial')).map((l) => l.split(' ')[2]!);

describe('trials through BullMQ on Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two worker processes, one killed mid-trial: nothing is lost and the table equals this thread', async () => {
    const queue = 'kill-test';
    const [a, b] = await Promise.all([startWorker(redis.url, queue), startWorker(redis.url, queue)]);
    const common = { estimator: slow, grid: { alpha: [1e-4, 1e-3] }, X: digits.X, y: digits.y, folds: 3 };
    try {
      const search = gridSearch({ ...common, executor: { type: 'bullmq', connection: redis.url, queue } });
      // Kill worker a as soon as it has started a trial.
      await new Promise<void>((resolve) => {
        const check = () => (started(a).length > 0 ? resolve() : a.process.once('lines', check));
        check();
      });
      const killed = started(a).at(-1)!;
      a.process.kill('SIGKILL');
      const queued = await search;
      const here = await gridSearch({ ...common, workers: 1 });
      expect(queued).toEqual(here);
      // The trial a died in was run again, by b, after a's lock ran out.
      expect(started(b)).toContain(killed);
      expect(started(b).length).toBeGreaterThan(0);
      for (const row of here.results) expect(row.mean).toBeGreaterThan(0.8);
    } finally {
      a.process.kill('SIGKILL');
      b.process.kill('SIGTERM');
      expect(await b.exited).toBe(0);
    }
  }, 120_000);

  it('restarts, failing trials and the command line through the queue', async () => {
    const queue = 'cli-test';
    const worker = await startTrialWorker({ connection: redis.url, queue, concurrency: 2, threads: 1 });
    const executor = { type: 'bullmq' as const, connection: redis.url, queue };
    const estimator = { kind: 'MLPClassifier' as const, options: { hiddenLayerSizes: [16], maxIter: 20 } };
    const X = digits.X.slice(0, 600);
    const y = digits.y.slice(0, 600);
    try {
      // A restart comes back as its model file: the same weights as the restart kept here.
      const restarts = { X, y, restarts: 3, seed: 2 };
      const queued = await randomRestarts({ ...restarts, estimator, executor });
      const here = await randomRestarts({ ...restarts, build: (p) => new MLPClassifier({ ...estimator.options, ...p }) });
      expect(queued.scores).toEqual(here.scores);
      expect(queued.bestSeed).toBe(here.bestSeed);
      expect((queued.best as MLPClassifier).predictProba(X)).toEqual((here.best as MLPClassifier).predictProba(X));
      queued.best.dispose?.();
      here.best.dispose?.();

      const failing = await gridSearch({ estimator, grid: { alpha: [-1, 1e-4] }, X, y, folds: 2, executor });
      expect(failing.results[0]!.error).toMatch(/^fold 0: RangeError: alpha must be/);
      expect(failing.results[1]!.error).toBeUndefined();
      expect(failing.bestParams).toEqual({ alpha: 1e-4 });

      // mlpkit search through Redis ranks and saves what the worker-thread run does.
      const dir = mkdtempSync(join(tmpdir(), 'mlpkit-search-'));
      const args = (out: string) => [
        'search',
        join(root, 'data', 'iris.csv'),
        '--target',
        'species',
        '--grid',
        '{"alpha":[1e-4,1e-2],"hiddenLayerSizes":[[4],[8]]}',
        '--options',
        '{"maxIter":100,"learningRateInit":0.02}',
        '--folds',
        '3',
        '--out',
        join(dir, out),
      ];
      const viaRedis = await mlpkit([
        ...args('redis.json'),
        '--redis',
        redis.url,
        '--queue',
        queue,
        '--save-best',
        join(dir, 'best.mlpkit'),
      ]);
      expect(viaRedis.stderr).toBe('');
      expect(viaRedis.status).toBe(0);
      expect(viaRedis.stdout).toMatch(/4 parameter sets × 3 folds on the queue cli-test/);
      expect(viaRedis.stdout).toMatch(/rank {2}mean accuracy/);
      const viaThreads = await mlpkit([...args('threads.json'), '--workers', '2']);
      expect(viaThreads.status).toBe(0);
      const fromRedis = JSON.parse(readFileSync(join(dir, 'redis.json'), 'utf8'));
      expect(fromRedis).toEqual(JSON.parse(readFileSync(join(dir, 'threads.json'), 'utf8')));
      expect(fromRedis.results).toHaveLength(4);
      expect(fromRedis.bestScore).toBeGreaterThan(0.8);
      const best = MLP.load(readFileSync(join(dir, 'best.mlpkit')));
      expect(best.layers[0]!.units).toBe(fromRedis.bestParams.hiddenLayerSizes[0]);
      expect(best.metadata).toMatchObject({ target: 'species', task: 'classification', classes: ['setosa', 'versicolor', 'virginica'] });
      best.dispose();
      const evaluated = await mlpkit(['evaluate', join(dir, 'best.mlpkit'), join(root, 'data', 'iris.csv')]);
      expect(evaluated.status).toBe(0);
      expect(evaluated.stdout).toMatch(/accuracy/);
    } finally {
      await worker.close();
    }
  }, 120_000);
});
