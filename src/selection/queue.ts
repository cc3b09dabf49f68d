/**
 * Trials on a BullMQ queue in Redis, for searches larger than one machine.
 *
 *   search side   stores the data set once under `mlpkit:data:<search>` (a day's expiry,
 *                 deleted when the search ends), adds one job per trial with the id
 *                 `<search>-<index>`, and collects each job's return value by polling
 *   worker side   `startTrialWorker` (the `mlpkit worker` command) fetches a search's data
 *                 set once, runs jobs through `runTask` and returns the outcome as JSON
 *
 * A worker that dies mid-trial stops renewing its job's lock; after `lockDuration` BullMQ's
 * stalled-job check hands the job to another worker, which runs the same task to the same
 * outcome. A trial that throws is a completed job whose outcome is the error, so it is not
 * retried. `bullmq` and `ioredis` are optional peer dependencies, loaded only here.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MlpkitError } from '../errors.js';
import type { RunnerFactory, TaskRunner } from './executor.js';
import { runTask, type EncodedTargets, type TrialData, type TrialOutcome, type TrialSource, type TrialTask } from './trial.js';

/** The queue used when none is named. */
export const DEFAULT_QUEUE = 'mlpkit-trials';
const DATA_TTL_SECONDS = 24 * 3600;
const POLL_MS = 250;

type BullMQ = typeof import('bullmq');
type IORedisClass = typeof import('ioredis').Redis;
type Client = InstanceType<IORedisClass>;

/** Thrown when the queue cannot be used: its packages are missing, or Redis cannot be reached. Code `MLPKIT_QUEUE_UNAVAILABLE`. */
export class QueueUnavailableError extends MlpkitError {
  override readonly name = 'QueueUnavailableError';
  readonly code = 'MLPKIT_QUEUE_UNAVAILABLE';
}

async function loadPackages(): Promise<{ bullmq: BullMQ; Redis: IORedisClass }> {
  try {
    const [bullmq, ioredis] = await Promise.all([import('bullmq'), import('ioredis')]);
    return { bullmq, Redis: ioredis.Redis };
  } catch (cause) {
    throw new QueueUnavailableError(
      'the bullmq executor needs the optional packages bullmq and ioredis: run `npm install bullmq ioredis`',
      { cause },
    );
  }
}

/** A connected client, or a QueueUnavailableError within `timeout` ms. */
async function connect(Redis: IORedisClass, url: string, timeout: number): Promise<Client> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeout, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {}); // reported through the rejected connect below
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout);
      }),
    ]);
  } catch (cause) {
    probe.disconnect();
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new QueueUnavailableError(`cannot reach Redis at ${url}: ${reason}`, { cause });
  } finally {
    clearTimeout(timer);
  }
  probe.disconnect();
  // BullMQ wants clients that retry forever; it takes care of blocking connections itself.
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => {}); // ioredis reconnects by itself; errors of commands still reject
  return client;
}

/** The data set as bytes: a JSON header line, then X (float32) and numeric targets (float64), little-endian. */
export function dataToBytes(data: TrialData): Buffer {
  const { y } = data;
  const header = {
    rows: data.rows,
    features: data.features,
    y: y.kind === 'labels' ? y : { kind: y.kind, ...(y.kind === 'rows' ? { width: y.width } : {}) },
  };
  const parts: Buffer[] = [Buffer.from(JSON.stringify(header) + '\n'), Buffer.from(data.X.buffer, data.X.byteOffset, data.X.byteLength)];
  if (y.kind !== 'labels') parts.push(Buffer.from(y.values.buffer, y.values.byteOffset, y.values.byteLength));
  return Buffer.concat(parts);
}

export function dataFromBytes(bytes: Buffer): TrialData {
  const end = bytes.indexOf(10);
  const header = JSON.parse(bytes.subarray(0, end).toString()) as {
    rows: number;
    features: number;
    y: EncodedTargets | { kind: 'numbers' | 'rows'; width?: number };
  };
  const body = bytes.subarray(end + 1);
  const copy = (offset: number, length: number) => body.buffer.slice(body.byteOffset + offset, body.byteOffset + offset + length);
  const xBytes = header.rows * header.features * 4;
  const X = new Float32Array(copy(0, xBytes));
  let y: EncodedTargets;
  if (header.y.kind === 'labels') y = header.y as EncodedTargets;
  else {
    const width = header.y.kind === 'rows' ? header.y.width! : 1;
    const values = new Float64Array(copy(xBytes, header.rows * width * 8));
    y = header.y.kind === 'rows' ? { kind: 'rows', values, width } : { kind: 'numbers', values };
  }
  return { X, rows: header.rows, features: header.features, y };
}

/** An outcome as JSON carries it (a model file as base64). */
type WireOutcome = { score: number; samples: number; model?: string } | { error: string; samples: number };

const dataKey = (search: string) => `mlpkit:data:${search}`;

export const createQueueRunner: RunnerFactory = async (options, { source, data }) => {
  if (options.type !== 'bullmq') throw new TypeError(`not a bullmq executor: ${options.type}`);
  if ('build' in source && typeof source.build === 'function') {
    throw new TypeError('build must be { module, export } or estimator must be given for the bullmq executor: a function cannot be sent');
  }
  const { bullmq, Redis } = await loadPackages();
  const client = await connect(Redis, options.connection, options.connectTimeout ?? 5000);
  const search = randomUUID();
  await client.set(dataKey(search), dataToBytes(data), 'EX', DATA_TTL_SECONDS);
  const queue = new bullmq.Queue(options.queue ?? DEFAULT_QUEUE, { connection: client });
  const pending = new Map<string, (outcome: TrialOutcome) => void>();
  let polling = false;
  const poll = setInterval(() => {
    if (polling || pending.size === 0) return;
    polling = true;
    void Promise.all(
      [...pending].map(async ([id, resolve]) => {
        const job = await bullmq.Job.fromId(queue, id);
        if (!job || !job.finishedOn) return;
        pending.delete(id);
        await job.remove().catch(() => {}); // read: nothing more to keep in Redis
        if (job.failedReason !== undefined && job.returnvalue == null)
          resolve({ error: `the queue failed the job: ${job.failedReason}`, samples: 0 });
        else resolve(fromWire(job.returnvalue as WireOutcome));
      }),
    )
      .catch(() => {}) // a lost connection: the next poll asks again
      .finally(() => (polling = false));
  }, POLL_MS);
  const runner: TaskRunner = {
    concurrency: Number.MAX_SAFE_INTEGER, // the workers pull jobs; here every trial waits at once
    async run(task: TrialTask, index: number) {
      const id = `${search}-${index}`;
      const done = new Promise<TrialOutcome>((resolve) => pending.set(id, resolve));
      await queue.add('trial', { search, source, task }, { jobId: id, removeOnFail: { age: 24 * 3600 } });
      return done;
    },
    async cancel() {
      // Jobs not yet taken are removed; those running finish and are ignored.
      await Promise.all(
        [...pending.keys()].map(async (id) => {
          const job = await bullmq.Job.fromId(queue, id);
          if (job && (await job.getState()) === 'waiting') await job.remove().catch(() => {});
          pending.get(id)?.({ error: 'cancelled: the search stopped at a failed trial', samples: 0 });
          pending.delete(id);
        }),
      );
    },
    async close() {
      clearInterval(poll);
      await client.del(dataKey(search)).catch(() => {});
      await queue.close();
      client.disconnect();
    },
  };
  return runner;
};

function fromWire(outcome: WireOutcome): TrialOutcome {
  if ('error' in outcome) return outcome;
  const { score, samples, model } = outcome;
  return model === undefined ? { score, samples } : { score, samples, model: new Uint8Array(Buffer.from(model, 'base64')) };
}

function toWire(outcome: TrialOutcome): WireOutcome {
  if ('error' in outcome) return outcome;
  const { score, samples, model } = outcome;
  return model ? { score, samples, model: Buffer.from(model).toString('base64') } : { score, samples };
}

/** Options of `startTrialWorker` (the `mlpkit worker` command). */
export interface TrialWorkerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  connection: string;
  /** Queue name. Default 'mlpkit-trials'. */
  queue?: string;
  /** Trials run at once. Default 1. */
  concurrency?: number;
  /** Native threads per trial. Default: the cores divided by `concurrency`. */
  threads?: number;
  /** How long a trial's lock lasts without renewal, in ms: a dead worker's trial moves to another after about this long. Default 30000. */
  lockDuration?: number;
  /** Bound on the first connection to Redis, in ms. Default 5000. */
  connectTimeout?: number;
  /** Told when a trial starts and ends. */
  onEvent?: (event: { type: 'start' | 'done'; job: string; outcome?: TrialOutcome }) => void;
}

/**
 * Runs trials from the queue until `close()`: the worker of `mlpkit worker --redis URL`.
 * Each search's data set is fetched from Redis once and kept while its trials come.
 */
export async function startTrialWorker(options: TrialWorkerOptions): Promise<{ close(): Promise<void> }> {
  const { bullmq, Redis } = await loadPackages();
  const client = await connect(Redis, options.connection, options.connectTimeout ?? 5000);
  const concurrency = options.concurrency ?? 1;
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
  const datasets = new Map<string, Promise<TrialData>>();
  const dataOf = (search: string) => {
    let data = datasets.get(search);
    if (!data) {
      data = client.getBuffer(dataKey(search)).then((bytes) => {
        if (!bytes) throw new Error(`the data set of search ${search} is no longer in Redis`);
        return dataFromBytes(bytes);
      });
      data.catch(() => datasets.delete(search));
      datasets.set(search, data);
      // Searches come one after another; a few data sets are plenty to keep.
      if (datasets.size > 4) datasets.delete(datasets.keys().next().value!);
    }
    return data;
  };
  const lockDuration = options.lockDuration ?? 30_000;
  const worker = new bullmq.Worker(
    options.queue ?? DEFAULT_QUEUE,
    async (job) => {
      const { search, source, task } = job.data as { search: string; source: TrialSource; task: TrialTask };
      options.onEvent?.({ type: 'start', job: job.id! });
      const outcome = await runTask(source, await dataOf(search), task, { threads });
      options.onEvent?.({ type: 'done', job: job.id!, outcome });
      return toWire(outcome);
    },
    { connection: client, concurrency, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2 },
  );
  worker.on('error', () => {}); // connection trouble: ioredis reconnects and the worker goes on
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      client.disconnect();
    },
  };
}
