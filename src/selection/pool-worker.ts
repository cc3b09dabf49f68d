/**
 * A worker thread of the trial pool: it loads the Node entry (for the native and wasm
 * backends), takes the data set and trial source it was started with, and runs tasks.
 */
import { workerData } from 'piscina';
import '../node.js';
import { runTask, type TrialData, type TrialSource, type TrialTask } from './trial.js';

const { source, data, threads } = workerData as { source: TrialSource; data: TrialData; threads: number };

export default function run(task: TrialTask) {
  return runTask(source, data, task, { threads });
}
