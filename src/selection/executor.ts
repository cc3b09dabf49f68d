/**
 * Executors run the trials of a model selection: in this thread (everywhere), on a pool of
 * worker threads, or through a BullMQ queue on Redis to workers on any machine (both only
 * from the Node entry, which installs their loaders). Each runs tasks through the same
 * `runTask`, so the outcome of every task does not depend on where it ran; results are
 * collected by task index, so their order does not either.
 */
import { checkInteger, checkKnownKeys, checkNumber, checkOneOf, checkOptions, MlpkitError, typeError } from '../errors.js';
import { runTask, type TrialData, type TrialOutcome, type TrialSource, type TrialTask } from './trial.js';

/**
 * Where the trials of a search run.
 * - `{ type: 'inline' }`: one after another in this thread.
 * - `{ type: 'threads', workers }`: on a pool of `workers` worker threads (Node).
 * - `{ type: 'bullmq', connection }`: enqueued on the BullMQ queue `queue` (default
 *   `'mlpkit-trials'`) of the Redis server at `connection` (a `redis://host:port` URL), for
 *   `mlpkit worker --redis URL` processes on any machine (Node; needs the optional packages
 *   `bullmq` and `ioredis`). `connectTimeout` (ms, default 5000) bounds the wait for Redis.
 */
export type ExecutorOptions =
  | { type: 'inline' }
  | { type: 'threads'; workers?: number }
  | { type: 'bullmq'; connection: string; queue?: string; connectTimeout?: number };

/** A trial's task plus its index in the search, as executors report progress. */
export interface TrialProgress {
  /** Trials finished (with a score or an error) so far, and in all. */
  done: number;
  total: number;
  /** Training samples processed by the finished trials. */
  samples: number;
  /** Milliseconds since the search started. */
  elapsed: number;
}

/** The running side of an executor: one task in, its outcome out. */
export interface TaskRunner {
  /** How many tasks to keep in flight. */
  readonly concurrency: number;
  run(task: TrialTask, index: number): Promise<TrialOutcome>;
  /** Gives up the tasks not yet started (for runners that hand out every task at once). */
  cancel?(): Promise<void>;
  close(): Promise<void>;
}

export type RunnerFactory = (options: ExecutorOptions, job: { source: TrialSource; data: TrialData; tasks: number }) => Promise<TaskRunner>;

const factories: Partial<Record<ExecutorOptions['type'], () => Promise<RunnerFactory>>> = {};

/** Installs the loader of an executor type (the Node entry installs 'threads' and 'bullmq'). */
export function setExecutorLoader(type: 'threads' | 'bullmq', loader: () => Promise<RunnerFactory>): void {
  factories[type] = loader;
}

/** Whether worker threads can run here (the Node entry was loaded). */
export function threadsAvailable(): boolean {
  return factories.threads !== undefined;
}

/** Checks an `executor` option. */
export function checkExecutor(value: unknown): ExecutorOptions {
  const o = checkOptions<{ type: string; workers: number; connection: string; queue: string; connectTimeout: number }>('executor', value);
  const type = checkOneOf('executor.type', o.type, ['inline', 'threads', 'bullmq'] as const);
  if (type === 'inline') {
    checkKnownKeys('executor', o, ['type']);
    return { type };
  }
  if (type === 'threads') {
    checkKnownKeys('executor', o, ['type', 'workers']);
    return o.workers === undefined ? { type } : { type, workers: checkInteger('executor.workers', o.workers, 1, 1024) };
  }
  checkKnownKeys('executor', o, ['type', 'connection', 'queue', 'connectTimeout']);
  if (typeof o.connection !== 'string' || !/^rediss?:\/\//.test(o.connection)) {
    throw typeError('executor.connection', 'a Redis URL such as "redis://127.0.0.1:6379"', o.connection);
  }
  if (o.queue !== undefined && (typeof o.queue !== 'string' || o.queue === '')) throw typeError('executor.queue', 'a queue name', o.queue);
  return {
    type,
    connection: o.connection,
    ...(o.queue ? { queue: o.queue } : {}),
    ...(o.connectTimeout === undefined ? {} : { connectTimeout: checkNumber('executor.connectTimeout', o.connectTimeout, { min: 1 }) }),
  };
}

async function runner(
  options: ExecutorOptions,
  source: TrialSource,
  data: TrialData,
  tasks: number,
  keepEstimator: boolean,
): Promise<TaskRunner> {
  if (options.type === 'inline') {
    return { concurrency: 1, run: (task) => runTask(source, data, task, { keepEstimator }), close: async () => {} };
  }
  const load = factories[options.type];
  if (!load) {
    throw new TypeError(
      `the ${options.type} executor needs Node.js: import mlpkit from Node (its 'node' export), or run the trials inline`,
    );
  }
  return (await load())(options, { source, data, tasks });
}

/** Thrown when a search stops at a failed trial (`onTrialError: 'stop'`). */
export class TrialFailedError extends MlpkitError {
  override readonly name = 'TrialFailedError';
  readonly code = 'MLPKIT_TRIAL_FAILED';
  constructor(
    readonly trial: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs every task on the executor and returns the outcomes in task order. With `stopOnError`,
 * the first failed task stops the run: no new task starts, and the run rejects once those in
 * flight have settled.
 */
export async function runTrials(
  options: ExecutorOptions,
  source: TrialSource,
  data: TrialData,
  tasks: TrialTask[],
  hooks: {
    stopOnError?: boolean;
    /** Inline only: outcomes carry their trained estimators, for the caller to dispose. */
    keepEstimators?: boolean;
    onOutcome?: (index: number, outcome: TrialOutcome) => void;
    onProgress?: (progress: TrialProgress) => void;
  } = {},
): Promise<TrialOutcome[]> {
  const started = Date.now();
  const taskRunner = await runner(options, source, data, tasks.length, hooks.keepEstimators ?? false);
  const outcomes: TrialOutcome[] = new Array(tasks.length);
  let next = 0;
  let done = 0;
  let samples = 0;
  let failed: { index: number; error: string } | undefined;
  const work = async () => {
    while (next < tasks.length && !failed) {
      const index = next++;
      const outcome = await taskRunner.run(tasks[index]!, index);
      outcomes[index] = outcome;
      done++;
      samples += outcome.samples;
      if ('error' in outcome && hooks.stopOnError && !failed) {
        failed = { index, error: outcome.error };
        await taskRunner.cancel?.();
      }
      hooks.onOutcome?.(index, outcome);
      hooks.onProgress?.({ done, total: tasks.length, samples, elapsed: Date.now() - started });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(taskRunner.concurrency, tasks.length) }, work));
  } finally {
    await taskRunner.close();
  }
  if (failed) throw new TrialFailedError(failed.index, `trial ${failed.index} failed: ${failed.error}`);
  return outcomes;
}
