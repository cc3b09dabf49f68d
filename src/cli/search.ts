/**
 * `mlpkit search` (grid or random search with k-fold cross-validation of an MLPClassifier or
 * MLPRegressor over a data file, on worker threads or through Redis) and `mlpkit worker` (a
 * process that runs the trials of searches queued in Redis).
 */
import { InvalidArgumentError } from 'commander';
import {
  gridSearch,
  MLPClassifier,
  MLPRegressor,
  randomSearch,
  type Distribution,
  type EstimatorOptions,
  type ExecutorOptions,
  type SearchResults,
} from '../node.js';
import { DEFAULT_QUEUE, startTrialWorker } from '../selection/queue.js';
import { decideTask, readTable, targetNumbers } from './data.js';
import { table, writeAtomic } from './output.js';
import { TrialReporter } from './progress.js';

export interface SearchCommandOptions {
  target?: string;
  labels?: string;
  features?: string[];
  task: 'auto' | 'classification' | 'regression';
  grid?: Record<string, unknown[]>;
  random?: number;
  space?: Record<string, Distribution>;
  options?: EstimatorOptions;
  folds: number;
  seed: number;
  workers?: number;
  redis?: string;
  queue?: string;
  out?: string;
  saveBest?: string;
}

/** A JSON option value that must be an object. */
export const jsonObject =
  (name: string) =>
  (value: string): Record<string, never> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new InvalidArgumentError(`${name} must be a JSON object, got '${value}' (${(error as Error).message})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new InvalidArgumentError(`${name} must be a JSON object, got '${value}'`);
    }
    return parsed as Record<string, never>;
  };

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** The ranked table as CSV: one row per parameter set, a column per parameter and per fold. */
function resultsCsv(results: SearchResults<Record<string, unknown>>, ranked: number[]): string {
  const keys = [...new Set(results.results.flatMap((r) => Object.keys(r.params)))];
  const folds = Math.max(...results.results.map((r) => r.scores.length));
  const header = ['rank', ...keys, 'mean', 'std', ...Array.from({ length: folds }, (_, i) => `fold${i}`), 'error'];
  const lines = ranked.map((index, rank) => {
    const r = results.results[index]!;
    const params = keys.map((k) => (r.params[k] === undefined ? '' : JSON.stringify(r.params[k])));
    return [String(rank + 1), ...params, String(r.mean), String(r.std), ...r.scores.map(String), r.error ?? ''];
  });
  return [header, ...lines].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

export async function searchCommand(
  file: string,
  o: SearchCommandOptions,
  global: { backend: 'auto' | 'native' | 'wasm' | 'js'; threads?: number },
  usage: (message: string) => Error,
): Promise<void> {
  if (o.target === undefined && o.labels === undefined)
    throw usage('name the target column with --target (CSV) or the labels file with --labels (IDX)');
  if ((o.grid === undefined) === (o.random === undefined)) throw usage('give either --grid JSON or --random N with --space JSON');
  if (o.random !== undefined && o.space === undefined) throw usage('--random N needs the ranges to draw from: --space JSON');
  if (o.redis !== undefined && o.workers !== undefined)
    throw usage('give either --workers (this machine) or --redis (queue workers), not both');
  const data = readTable(file, {
    ...(o.target !== undefined ? { target: o.target } : {}),
    ...(o.features ? { features: o.features } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
  });
  const task = decideTask(data, o.task);
  const numbers = targetNumbers(data);
  if (task === 'regression' && !numbers) throw new Error(`${file}: the target '${data.targetName}' has values that are not numbers`);
  const y: (string | number)[] = numbers ?? data.target!.map(String);
  const kind = task === 'classification' ? 'MLPClassifier' : 'MLPRegressor';
  const options: EstimatorOptions = {
    ...(global.backend !== 'auto' ? { backend: global.backend } : {}),
    ...(global.threads ? { threads: global.threads } : {}),
    ...o.options,
  };
  const executor: ExecutorOptions | undefined = o.redis
    ? { type: 'bullmq', connection: o.redis, ...(o.queue ? { queue: o.queue } : {}) }
    : undefined;
  const trials = o.grid ? Object.values(o.grid).reduce((n, values) => n * (Array.isArray(values) ? values.length : 1), 1) : o.random!;
  const where = executor
    ? `the queue ${o.queue ?? DEFAULT_QUEUE} at ${o.redis}`
    : o.workers === 1
      ? 'this thread'
      : `${o.workers ?? 'all'} worker threads`;
  console.log(
    `${data.rows} rows × ${data.features.length} features from ${file}; target '${data.targetName}', ${task} (${kind}); ` +
      `${trials} parameter sets × ${o.folds} folds on ${where}`,
  );
  const progress = new TrialReporter(trials * o.folds, process.stdout);
  const common = {
    estimator: { kind, options: options as Record<string, unknown> },
    X: data.x instanceof Float32Array ? data.x : Float32Array.from(data.x),
    y,
    folds: o.folds,
    seed: o.seed,
    ...(executor ? { executor } : o.workers !== undefined ? { workers: o.workers } : {}),
    onProgress: (p: Parameters<TrialReporter['update']>[0]) => progress.update(p),
  } as const;
  let results: SearchResults<Record<string, unknown>>;
  try {
    results = o.grid
      ? await gridSearch<Record<string, unknown>>({ ...common, grid: o.grid })
      : await randomSearch({ ...common, space: o.space!, trials: o.random! });
  } finally {
    progress.stop();
  }
  const ranked = results.results
    .map((_, i) => i)
    .sort((a, b) => {
      const ra = results.results[a]!;
      const rb = results.results[b]!;
      return (ra.error ? 1 : 0) - (rb.error ? 1 : 0) || rb.mean - ra.mean || a - b;
    });
  const metric = task === 'classification' ? 'accuracy' : 'R²';
  const rows: (string | number)[][] = [['rank', `mean ${metric}`, 'std', 'parameters']];
  ranked.forEach((index, rank) => {
    const r = results.results[index]!;
    rows.push([
      String(rank + 1),
      r.error ? 'failed' : r.mean,
      r.error ? '' : r.std,
      JSON.stringify(r.params) + (r.error ? `  ${r.error}` : ''),
    ]);
  });
  console.log(table(rows));
  console.log(`best: ${JSON.stringify(results.bestParams)} with mean ${metric} ${results.bestScore.toFixed(4)}`);
  if (o.out) {
    writeAtomic(o.out, o.out.endsWith('.json') ? `${JSON.stringify(results, null, 1)}\n` : resultsCsv(results, ranked));
    console.log(`results written to ${o.out}`);
  }
  if (o.saveBest) {
    // The best parameters trained on every row, saved as `mlpkit train` saves a model.
    const params = { randomState: o.seed, ...options, ...results.bestParams } as EstimatorOptions;
    const estimator = kind === 'MLPClassifier' ? new MLPClassifier(params) : new MLPRegressor(params);
    try {
      await estimator.fit(common.X, y as never);
      const net = estimator.model;
      net.metadata = {
        format: data.format,
        task,
        features: [...data.features],
        target: data.targetName!,
        ...(estimator instanceof MLPClassifier ? { classes: [...estimator.classes] } : {}),
      };
      writeAtomic(o.saveBest, net.save());
    } finally {
      estimator.dispose();
    }
    console.log(`best model trained on all ${data.rows} rows and written to ${o.saveBest}`);
  }
}

export interface WorkerCommandOptions {
  redis: string;
  concurrency: number;
  queue?: string;
  lockDuration?: number;
}

/** Runs queued trials until SIGINT or SIGTERM; then finishes the trials it holds and leaves. */
export async function workerCommand(o: WorkerCommandOptions, global: { threads?: number }): Promise<void> {
  const queue = o.queue ?? DEFAULT_QUEUE;
  const worker = await startTrialWorker({
    connection: o.redis,
    queue,
    concurrency: o.concurrency,
    ...(global.threads ? { threads: global.threads } : {}),
    ...(o.lockDuration ? { lockDuration: o.lockDuration } : {}),
    onEvent: (event) => {
      const outcome = event.outcome;
      const detail = !outcome ? '' : 'error' in outcome ? ` failed: ${outcome.error}` : ` score ${outcome.score.toFixed(4)}`;
      console.log(`${event.type === 'start' ? 'started' : 'finished'} trial ${event.job}${detail}`);
    },
  });
  console.log(`mlpkit worker ${process.pid}: running trials from the queue ${queue} at ${o.redis} (concurrency ${o.concurrency})`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('mlpkit worker: finishing the trials in hand');
  await worker.close();
}
