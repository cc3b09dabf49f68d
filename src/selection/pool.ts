/**
 * The worker-thread executor: a piscina pool whose workers each receive the data set once,
 * at start-up, in SharedArrayBuffers (one copy in memory for all of them), and then only
 * small task descriptions. Native threads are divided between the workers so that the pool
 * never runs more threads than there are cores.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { RunnerFactory } from './executor.js';
import type { TrialOutcome, TrialTask } from './trial.js';

/** The worker module beside this one; from TypeScript sources (tests, tsx) it is loaded through tsx. */
function workerModule(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './pool-worker.ts' : './pool-worker.js', import.meta.url).href;
  return { filename, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

export const createThreadRunner: RunnerFactory = async (options, { source, data, tasks }) => {
  if (options.type !== 'threads') throw new TypeError(`not a threads executor: ${options.type}`);
  if ('build' in source && typeof source.build === 'function') {
    throw new TypeError(
      'build must be { module, export } or estimator must be given to run trials on worker threads: a function cannot be sent to them',
    );
  }
  const cores = availableParallelism();
  const workers = Math.max(1, Math.min(options.workers ?? cores, tasks));
  const threads = Math.max(1, Math.floor(cores / workers));
  const { filename, execArgv } = workerModule();
  const pool = new Piscina({
    filename,
    execArgv,
    minThreads: workers,
    maxThreads: workers,
    // No time limit per idle worker: the pool lives exactly as long as one search.
    idleTimeout: Infinity,
    workerData: { source, data, threads },
  });
  return {
    concurrency: workers,
    run: (task: TrialTask) => pool.run(task) as Promise<TrialOutcome>,
    close: () => pool.destroy(),
  };
};
