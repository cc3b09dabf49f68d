#!/usr/bin/env node
/**
 * The mlpkit command line: train, evaluate and predict on CSV and IDX files, and report the
 * backends. `mlpkit <command> --help` describes each command with examples.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  classScores,
  compareBackends,
  confusionMatrix,
  listBackends,
  MLP,
  r2Score,
  regressionErrors,
  VERSION,
  type Activation,
  type History,
  type LayerWeights,
  type Loss,
  type MLPOptions,
  type OptimizerType,
} from '../node.js';
import { ACTIVATION_TRAITS, ACTIVATIONS, LOSSES, OPTIMIZERS } from '../spec.js';
import { decideTask, readTable, targetNumbers, type Table } from './data.js';
import { table, writeAtomic } from './output.js';
import { jsonObject, searchCommand, workerCommand } from './search.js';
import { lineChart } from './plot.js';
import { ProgressReporter } from './progress.js';

/** Everything the CLI stores in a model's metadata to read data files the same way later. */
interface CliMetadata {
  /** The kind of file the model was trained on. */
  format: 'csv' | 'idx';
  task: 'classification' | 'regression';
  features: string[];
  target: string;
  /** Class labels in output order (classification). */
  classes?: (string | number)[];
  /** How it was trained: a run continued with --resume trains the same way. */
  fit?: { batchSize: number; validationSplit: number; earlyStopping?: number | true };
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------- helpers

function loadModel(path: string): { net: MLP; meta: CliMetadata } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, {
      cause: error,
    });
  }
  let net: MLP;
  try {
    net = MLP.load(bytes, { backend: globalOptions.backend, ...(globalOptions.threads ? { threads: globalOptions.threads } : {}) });
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
  const meta = net.metadata as CliMetadata | undefined;
  if (!meta || !Array.isArray(meta.features) || typeof meta.target !== 'string' || (meta.format !== 'csv' && meta.format !== 'idx')) {
    throw new Error(`${path}: this model was not trained by the mlpkit command line (its metadata has no feature and target names)`);
  }
  return { net, meta };
}

/** Reads a data file with the columns a model was trained on. */
function readForModel(path: string, meta: CliMetadata, labels: string | undefined, withTarget: boolean): Table {
  const table = readTable(
    path,
    meta.format === 'idx'
      ? { ...(withTarget && labels ? { labels } : {}) }
      : { features: meta.features, ...(withTarget ? { target: meta.target } : {}) },
  );
  if (table.features.length !== meta.features.length) {
    throw new Error(`${path}: has ${table.features.length} features, the model takes ${meta.features.length}`);
  }
  return table;
}

/** Class indices of a table's targets, for the classes a model knows. */
function classIndices(table: Table, meta: CliMetadata, path: string): Int32Array {
  const index = new Map(meta.classes!.map((c, i) => [String(c), i]));
  return Int32Array.from(table.target!, (value, row) => {
    const k = index.get(String(value));
    if (k === undefined)
      throw new Error(
        `${path}: row ${row + 1} has the class '${value}', which the model was not trained on (it knows ${meta.classes!.join(', ')})`,
      );
    return k;
  });
}

const positiveInt =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`);
    return n;
  };
const number =
  (name: string, min = -Infinity, max = Infinity) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number between ${min} and ${max}, got '${value}'`);
    return n;
  };
const layerList = (value: string): number[] => value.split(',').map((part) => positiveInt('--layers')(part.trim()));
const nameList = (value: string): string[] =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

const globalOptions: { backend: 'auto' | 'native' | 'wasm' | 'js'; threads?: number; verbose: boolean } = {
  backend: 'auto',
  verbose: false,
};

// ---------------------------------------------------------------------------- train

interface TrainOptions {
  target?: string;
  labels?: string;
  features?: string[];
  task: 'auto' | 'classification' | 'regression';
  layers: number[];
  activation: Activation;
  loss?: Loss;
  optimizer: OptimizerType;
  learningRate?: number;
  epochs: number;
  batchSize: number;
  validationSplit: number;
  earlyStopping?: number | true;
  l2: number;
  dropout: number;
  seed: number;
  out?: string;
  plot?: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume?: string;
}

/** The model, its metadata and the targets of a fresh run, from the options. */
function newModel(file: string, data: Table, options: TrainOptions): { net: MLP; meta: CliMetadata; y: Float32Array | Int32Array } {
  const task = decideTask(data, options.task);
  let y: Float32Array | Int32Array;
  const meta: CliMetadata = { format: data.format, task, features: [...data.features], target: data.targetName! };
  let output: MLPOptions['layers'][number];
  if (task === 'classification') {
    const numbers = targetNumbers(data);
    const classes = numbers ? [...new Set(numbers)].sort((a, b) => a - b) : [...new Set(data.target!.map(String))].sort();
    if (classes.length < 2)
      throw new Error(`${file}: the target '${meta.target}' has a single class (${classes[0]}); classification needs two or more`);
    meta.classes = classes;
    const indices = classIndices(data, meta, file);
    output = classes.length === 2 ? { units: 1, activation: 'sigmoid' } : { units: classes.length, activation: 'softmax' };
    y = classes.length === 2 ? Float32Array.from(indices) : indices;
  } else {
    const numbers = targetNumbers(data);
    if (!numbers)
      throw new Error(
        `${file}: the target '${meta.target}' has values that are not numbers, so it cannot be a regression target (try --task classification)`,
      );
    output = { units: 1, activation: 'identity' };
    y = Float32Array.from(numbers);
  }
  const net = new MLP({
    inputs: data.features.length,
    layers: [...options.layers.map((units) => ({ units, activation: options.activation })), output],
    ...(options.loss ? { loss: options.loss } : {}),
    optimizer: { type: options.optimizer, ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}) },
    l2: options.l2,
    dropout: options.layers.length > 0 ? options.dropout : 0,
    seed: options.seed,
    standardize: true,
    backend: globalOptions.backend,
    ...(globalOptions.threads ? { threads: globalOptions.threads } : {}),
  });
  return { net, meta, y };
}

/** A checkpoint to continue, with the targets of the data for the classes it knows. */
function resumedModel(
  file: string,
  checkpoint: string,
  options: TrainOptions,
): { net: MLP; meta: CliMetadata; data: Table; y: Float32Array | Int32Array } {
  const { net, meta } = loadModel(checkpoint);
  if (net.epochsTrained === 0) throw new Error(`${checkpoint}: not a training checkpoint (write one with --checkpoint)`);
  if (net.epochsTrained >= options.epochs) {
    throw new Error(`${checkpoint}: has trained ${net.epochsTrained} epochs already; ask for more with --epochs (it is the total)`);
  }
  const data = readForModel(file, meta, options.labels, true);
  if (meta.task === 'classification') {
    const indices = classIndices(data, meta, file);
    return { net, meta, data, y: meta.classes!.length === 2 ? Float32Array.from(indices) : indices };
  }
  const numbers = targetNumbers(data);
  if (!numbers) throw new Error(`${file}: the target '${meta.target}' has values that are not numbers`);
  return { net, meta, data, y: Float32Array.from(numbers) };
}

async function train(file: string, options: TrainOptions): Promise<void> {
  if (options.target === undefined && options.labels === undefined && !options.resume)
    throw new UsageError('name the target column with --target (CSV) or the labels file with --labels (IDX)');
  let net: MLP;
  let meta: CliMetadata;
  let y: Float32Array | Int32Array;
  let data: Table;
  if (options.resume) {
    ({ net, meta, data, y } = resumedModel(file, options.resume, options));
    if (meta.fit) options = { ...options, ...meta.fit }; // the checkpoint's batches, split and stopping rule
  } else {
    data = readTable(file, {
      ...(options.target !== undefined ? { target: options.target } : {}),
      ...(options.features ? { features: options.features } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
    });
    ({ net, meta, y } = newModel(file, data, options));
  }
  const task = meta.task;
  const initialEpoch = net.epochsTrained;
  const fit: NonNullable<CliMetadata['fit']> = {
    batchSize: options.batchSize,
    validationSplit: options.validationSplit,
    ...(options.earlyStopping !== undefined ? { earlyStopping: options.earlyStopping } : {}),
  };
  net.metadata = { ...meta, fit };
  const classes = meta.classes ? ` (${meta.classes.length} classes)` : '';
  console.log(
    `mlpkit ${VERSION}: ${data.rows} rows × ${data.features.length} features from ${file}; target '${meta.target}', ${task}${classes}`,
  );
  const hidden = net.layers.length > 1 ? ` ${net.layers[0]!.activation}` : '';
  console.log(
    `model: ${[net.inputs, ...net.layers.map((l) => l.units)].join('-')}${hidden}, loss ${net.loss}, ${net.spec.optimizer.type}, backend ${net.backend}` +
      (initialEpoch > 0 ? `; resuming ${options.resume} at epoch ${initialEpoch + 1} of ${options.epochs}` : ''),
  );

  // Ctrl-C stops after the current batch; the best weights so far are kept. A second one quits.
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nmlpkit: stopping after the current batch (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = new ProgressReporter(options.epochs, process.stdout);
  let best: { value: number; epoch: number; weights: LayerWeights[] } | undefined;
  let lastCheckpoint: Uint8Array | undefined; // the state at the end of the last epoch
  const started = performance.now();
  let history: History;
  try {
    history = await net.fit(data.x, y, {
      epochs: options.epochs,
      initialEpoch,
      batchSize: options.batchSize,
      ...(options.validationSplit > 0 ? { validationSplit: options.validationSplit } : {}),
      ...(options.earlyStopping !== undefined
        ? { earlyStopping: { patience: options.earlyStopping === true ? 10 : options.earlyStopping, restoreBestWeights: true } }
        : {}),
      signal: controller.signal,
      onEpochEnd: (epoch, logs) => {
        progress.epoch(epoch, logs);
        const value = logs.valLoss ?? logs.loss;
        if (!best || value < best.value) best = { value, epoch, weights: net.getWeights() };
        if (options.checkpoint) {
          lastCheckpoint = net.save({ training: true });
          if ((epoch + 1) % options.checkpointEvery === 0 || epoch + 1 === options.epochs) writeAtomic(options.checkpoint, lastCheckpoint);
        }
      },
    });
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  const seconds = (performance.now() - started) / 1000;
  if (history.stopReason === 'aborted' && options.checkpoint && lastCheckpoint) {
    writeAtomic(options.checkpoint, lastCheckpoint); // resumable from the last whole epoch
    console.log(`checkpoint written to ${options.checkpoint} (continue with --resume)`);
  }
  if (history.stopReason === 'aborted' && best) net.setWeights(best.weights);
  const last = history.loss.length - 1;
  const summary = [`${history.loss.length} epochs in ${seconds.toFixed(1)} s`, `loss ${history.loss[last]?.toFixed(4)}`];
  if (history.valLoss.length) summary.push(`validation loss ${history.valLoss[last]?.toFixed(4)}`);
  if (history.stopReason === 'early-stopping') summary.push(`stopped early, best epoch ${history.bestEpoch + 1}`);
  if (history.stopReason === 'aborted') summary.push(`interrupted; keeping the best epoch so far (${(best?.epoch ?? 0) + 1})`);
  console.log(summary.join(', '));
  if (task === 'classification') console.log(`training accuracy: ${((net.evaluate(data.x, y).accuracy ?? 0) * 100).toFixed(2)} %`);
  if (options.plot) {
    writeAtomic(
      options.plot,
      lineChart(
        [
          { name: 'training loss', values: history.loss },
          ...(history.valLoss.length ? [{ name: 'validation loss', values: history.valLoss }] : []),
        ],
        { title: `${basename(file)}: ${net.loss}`, yLabel: net.loss },
      ),
    );
    console.log(`loss curves written to ${options.plot}`);
  }
  if (options.out) {
    writeAtomic(options.out, net.save());
    console.log(`model written to ${options.out}`);
  }
  net.dispose();
  if (interrupted) process.exitCode = 130;
}

// ---------------------------------------------------------------------------- evaluate, predict, info

async function evaluate(modelPath: string, file: string, options: { labels?: string; confusion?: boolean }): Promise<void> {
  const { net, meta } = loadModel(modelPath);
  const data = readForModel(file, meta, options.labels, true);
  if (!data.target) throw new UsageError(`${file}: no target values to evaluate against (give --labels for IDX images)`);
  const outputs = net.predict(data.x) as Float32Array;
  console.log(`${data.rows} rows of ${file}, model ${modelPath} (${meta.task}, backend ${net.backend})`);
  if (meta.task === 'classification') {
    const truth = classIndices(data, meta, file);
    const k = meta.classes!.length;
    const predicted = net.predictClasses(data.x) as Int32Array;
    const y = k === 2 ? Float32Array.from(truth) : truth;
    const { loss } = net.evaluate(data.x, y);
    const correct = predicted.filter((p, i) => p === truth[i]).length;
    console.log(
      `loss ${loss.toFixed(4)} (${net.loss}), accuracy ${((100 * correct) / data.rows).toFixed(2)} % (${correct}/${data.rows})\n`,
    );
    const matrix = confusionMatrix(truth, predicted, k);
    const scores = classScores(matrix);
    const score = (v: number) => v.toFixed(4);
    console.log(
      table([
        ['class', 'precision', 'recall', 'f1', 'support'],
        ...scores.map((s, i) => [String(meta.classes![i]), score(s.precision), score(s.recall), score(s.f1), s.support]),
      ]),
    );
    if (options.confusion) {
      console.log('\nconfusion matrix (rows: true class, columns: predicted)');
      console.log(table([['', ...meta.classes!.map(String)], ...matrix.map((row, i) => [String(meta.classes![i]), ...row])]));
    }
  } else {
    const want = Float32Array.from(targetNumbers(data) ?? []);
    if (want.length !== data.rows) throw new Error(`${file}: the target '${meta.target}' has values that are not numbers`);
    const { loss } = net.evaluate(data.x, want);
    const { mae, rmse } = regressionErrors(want, outputs);
    console.log(
      `loss ${loss.toFixed(4)} (${net.loss}), R² ${r2Score(want, outputs).toFixed(4)}, MAE ${mae.toFixed(4)}, RMSE ${rmse.toFixed(4)}`,
    );
  }
  net.dispose();
}

async function predict(modelPath: string, file: string, options: { out?: string; probabilities?: boolean }): Promise<void> {
  const { net, meta } = loadModel(modelPath);
  const data = readForModel(file, meta, undefined, false);
  const outputs = net.predict(data.x) as Float32Array;
  const lines: string[] = [];
  const quote = (v: string | number) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  if (meta.task === 'classification') {
    const classes = meta.classes!;
    const predicted = net.predictClasses(data.x) as Int32Array;
    const probabilities = (r: number) =>
      classes.length === 2 ? [1 - outputs[r]!, outputs[r]!] : Array.from(outputs.subarray(r * classes.length, (r + 1) * classes.length));
    lines.push([meta.target, ...(options.probabilities ? classes.map((c) => `p(${c})`) : [])].map(quote).join(','));
    for (let r = 0; r < data.rows; r++) {
      lines.push(
        [quote(classes[predicted[r]!]!), ...(options.probabilities ? probabilities(r).map((p) => p.toPrecision(6)) : [])].join(','),
      );
    }
  } else {
    lines.push(quote(meta.target));
    for (let r = 0; r < data.rows; r++) lines.push(String(outputs[r]));
  }
  const text = lines.join('\n') + '\n';
  if (options.out) {
    writeAtomic(options.out, text);
    console.error(`${data.rows} predictions written to ${options.out}`);
  } else {
    process.stdout.write(text);
  }
  net.dispose();
}

async function bench(
  file: string | undefined,
  options: { target?: string; labels?: string; layers: number[]; epochs: number; batchSize: number; rows: number; json?: boolean },
): Promise<void> {
  let x: Float32Array | Uint8Array;
  let y: Int32Array;
  let inputs: number;
  let classes: number;
  let source: string;
  if (file) {
    if (options.target === undefined && options.labels === undefined)
      throw new UsageError('name the target column with --target (CSV) or the labels file with --labels (IDX)');
    const data = readTable(file, {
      ...(options.target !== undefined ? { target: options.target } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
    });
    const names = [...new Set(data.target!.map(String))].sort();
    const index = new Map(names.map((c, i) => [c, i]));
    x = data.x.subarray(0, Math.min(data.rows, options.rows) * data.features.length);
    y = Int32Array.from(data.target!.slice(0, x.length / data.features.length), (v) => index.get(String(v))!);
    inputs = data.features.length;
    classes = Math.max(2, names.length);
    source = `${y.length} rows of ${file}`;
  } else {
    inputs = 784;
    classes = 10;
    x = Float32Array.from({ length: options.rows * inputs }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
    y = Int32Array.from({ length: options.rows }, (_, r) => (r * 7) % classes);
    source = `${options.rows} synthetic rows of 784 features, 10 classes`;
  }
  const model: MLPOptions = {
    inputs,
    layers: [...options.layers.map((units) => ({ units, activation: 'relu' as const })), { units: classes, activation: 'softmax' }],
    optimizer: { type: 'sgd', learningRate: 0.01 },
  };
  if (!options.json)
    console.log(
      `comparing backends: ${[inputs, ...options.layers, classes].join('-')} relu/softmax, SGD, batch ${options.batchSize}, ${options.epochs} epochs on ${source}\n`,
    );
  const comparison = await compareBackends({
    model,
    x,
    y,
    epochs: options.epochs,
    batchSize: options.batchSize,
    backends: ['native', 'wasm', 'js'],
  });
  console.log(options.json ? JSON.stringify({ model, source, rows: comparison.rows }, null, 2) : comparison.table());
}

/** Writes a model in another library's format. */
function exportModel(modelPath: string, options: { tfjs?: string; onnx?: string }): void {
  if (!options.tfjs && !options.onnx) throw new UsageError('name what to write: --onnx <file> or --tfjs <directory>');
  const { net, meta } = loadModel(modelPath);
  if (options.onnx) {
    // A classifier gets the "probabilities" and "label" outputs, its class names in the metadata.
    const classes = meta.task === 'classification' && meta.classes ? meta.classes : undefined;
    writeAtomic(options.onnx, net._toOnnx({}, classes ? { classes } : {}));
    console.log(
      `ONNX model written to ${options.onnx}: input "input" [batch, ${net.inputs}], ` +
        (classes
          ? `outputs "probabilities" [batch, ${classes.length}] and "label" (class index)`
          : `output "output" [batch, ${net.outputs}]`),
    );
  }
  if (options.tfjs) {
    const { modelJson, weights } = net.toTfjs();
    mkdirSync(options.tfjs, { recursive: true });
    writeAtomic(join(options.tfjs, 'weights.bin'), weights);
    writeAtomic(join(options.tfjs, 'model.json'), `${JSON.stringify(modelJson, null, 1)}\n`);
    console.log(`TensorFlow.js layers model written to ${join(options.tfjs, 'model.json')} and weights.bin`);
  }
}

function info(): void {
  console.log(`mlpkit ${VERSION} on Node ${process.versions.node} (${process.platform}-${process.arch})`);
  for (const b of listBackends()) {
    console.log(
      b.available
        ? `  ${b.name.padEnd(7)} available    ${b.isa}, ${b.threads} thread${b.threads === 1 ? '' : 's'}`
        : `  ${b.name.padEnd(7)} unavailable  ${b.reason}`,
    );
  }
}

// ---------------------------------------------------------------------------- program

/** The data arguments of train and search: the file, its target and features, and the task. */
function withData(command: Command, task: string): Command {
  return command
    .argument('<file>', 'CSV with a header row, or IDX images (gzipped or not)')
    .option('-t, --target <column>', 'target column of a CSV file (name or 0-based index)')
    .option('--labels <file>', 'labels file for IDX images')
    .option('--features <columns>', 'feature columns of a CSV file, comma-separated (default: all but the target)', nameList)
    .addOption(
      new Option('--task <task>', `${task} (default: from the target values)`)
        .choices(['auto', 'classification', 'regression'])
        .default('auto'),
    );
}

export function program(): Command {
  const cli = new Command('mlpkit')
    .description('Train, evaluate and run multi-layer perceptrons on CSV and IDX files.')
    .version(VERSION)
    .addOption(new Option('--backend <name>', 'backend to run on').choices(['auto', 'native', 'wasm', 'js']).default('auto'))
    .option('--threads <n>', 'native threads (default: one per core)', positiveInt('--threads'))
    .option('--verbose', 'print stack traces with errors', false)
    .hook('preAction', (command) => {
      const o = command.opts();
      globalOptions.backend = o.backend;
      globalOptions.threads = o.threads;
      globalOptions.verbose = o.verbose;
    })
    .addHelpText(
      'after',
      `
Examples:
  mlpkit train data/iris.csv --target species --layers 16 --epochs 200 --out iris.mlpkit
  mlpkit evaluate iris.mlpkit data/iris.csv --confusion
  mlpkit predict iris.mlpkit new-flowers.csv --probabilities --out predictions.csv
  mlpkit bench data/digits.csv.gz --target digit --layers 128
  mlpkit info`,
    );

  withData(cli.command('train').description('train a network on a CSV or IDX file'), 'classification or regression')
    .option('--layers <sizes>', 'hidden layer sizes, comma-separated', layerList, [64])
    .addOption(
      new Option('--activation <name>', 'hidden activation')
        .choices(ACTIVATIONS.filter((a) => !ACTIVATION_TRAITS[a].rowwise))
        .default('relu'),
    )
    .addOption(new Option('--loss <name>', 'loss (default: cross-entropy for classes, mse for regression)').choices([...LOSSES]))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]).default('adam'))
    .option('--learning-rate <rate>', 'learning rate (default: 0.001 for adam, 0.01 otherwise)', number('--learning-rate', 0))
    .option('--epochs <n>', 'passes over the data', positiveInt('--epochs'), 20)
    .option('--batch-size <n>', 'rows per update (1 = stochastic, >= rows = full batch)', positiveInt('--batch-size'), 32)
    .option(
      '--validation-split <fraction>',
      'fraction held out (stratified for classes) to report validation loss; 0 for none',
      number('--validation-split', 0, 0.99),
      0.1,
    )
    .option(
      '--early-stopping [patience]',
      'stop when the validation loss stops improving (patience in epochs, default 10)',
      positiveInt('--early-stopping'),
    )
    .option('--l2 <alpha>', 'L2 penalty α‖W‖²', number('--l2', 0), 0)
    .option('--dropout <rate>', 'dropout rate of the hidden layers', number('--dropout', 0, 0.99), 0)
    .option('--seed <n>', 'seed of every random choice', number('--seed', 0, Number.MAX_SAFE_INTEGER), 0)
    .option('-o, --out <file>', 'write the trained model here (atomically)')
    .option('--plot <file.svg>', 'write the training and validation loss curves as an SVG chart')
    .option('--checkpoint <file>', 'write a training checkpoint (model and optimizer state) here after epochs, and on Ctrl-C')
    .option('--checkpoint-every <n>', 'epochs between checkpoints', positiveInt('--checkpoint-every'), 1)
    .option('--resume <file>', 'continue the run a checkpoint stopped: its model, optimizer state and epoch (--epochs is the total)')
    .addHelpText(
      'after',
      `
Standard scaling is fitted on the training rows and stored in the model. Ctrl-C stops after
the current batch and, with --out, saves the best weights so far; with --checkpoint, it also
writes the state at the end of the last whole epoch, which --resume continues to the same
weights as a run that never stopped. With --resume the model's layers and options, the batch
size, the validation split and early stopping come from the checkpoint; --epochs is the total.

Examples:
  mlpkit train data/iris.csv --target species --layers 16 --epochs 200 --out iris.mlpkit --plot iris.svg
  mlpkit train train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz --layers 256,128 --epochs 15 --out fashion.mlpkit
  mlpkit train houses.csv --target price --task regression --layers 64,64 --loss mse --early-stopping 20
  mlpkit train data/iris.csv --target species --epochs 100 --checkpoint run.ckpt
  mlpkit train data/iris.csv --resume run.ckpt --epochs 200 --out iris.mlpkit`,
    )
    .action(train);

  cli
    .command('evaluate')
    .description('loss, accuracy and per-class precision/recall (or R², MAE, RMSE) of a model on a labelled file')
    .argument('<model>', 'a model file written by train')
    .argument('<file>', 'data with the target column (CSV) or IDX images')
    .option('--labels <file>', 'labels file for IDX images')
    .option('--confusion', 'print the confusion matrix too')
    .addHelpText(
      'after',
      `
Examples:
  mlpkit evaluate iris.mlpkit data/iris.csv --confusion
  mlpkit evaluate fashion.mlpkit t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz`,
    )
    .action(evaluate);

  cli
    .command('predict')
    .description('predictions of a model for every row of a file, as CSV')
    .argument('<model>', 'a model file written by train')
    .argument('<file>', 'data with the feature columns the model was trained on')
    .option('-o, --out <file>', 'write the CSV here (atomically) instead of to standard output')
    .option('--probabilities', 'add a probability column per class')
    .addHelpText(
      'after',
      `
Examples:
  mlpkit predict iris.mlpkit new-flowers.csv
  mlpkit predict iris.mlpkit new-flowers.csv --probabilities --out predictions.csv`,
    )
    .action(predict);

  cli
    .command('bench')
    .description('compare the backends on one model: speed, weight agreement with js, event-loop delay, memory')
    .argument('[file]', 'CSV or IDX data to train on (default: synthetic data of 784 features, 10 classes)')
    .option('-t, --target <column>', 'target column of a CSV file')
    .option('--labels <file>', 'labels file for IDX images')
    .option('--layers <sizes>', 'hidden layer sizes, comma-separated', layerList, [512, 512])
    .option('--epochs <n>', 'epochs timed per backend', positiveInt('--epochs'), 2)
    .option('--batch-size <n>', 'rows per update', positiveInt('--batch-size'), 64)
    .option('--rows <n>', 'rows used (the first ones of the file)', positiveInt('--rows'), 2048)
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
The js backend is the reference: it is slow on large models; pick small --layers or --rows to include it quickly.

Examples:
  mlpkit bench
  mlpkit bench data/digits.csv.gz --target digit --layers 128 --epochs 5
  mlpkit bench --layers 256 --rows 512 --json > comparison.json`,
    )
    .action(bench);

  cli
    .command('export')
    .description('write a model for another library: ONNX (a .onnx file) or a TensorFlow.js layers model (model.json + weights.bin)')
    .argument('<model>', 'a model written by mlpkit train')
    .option('--onnx <file>', 'write an ONNX model (opset 13) here, for onnxruntime and other ONNX runtimes')
    .option('--tfjs <directory>', 'write model.json and weights.bin here, for tf.loadLayersModel')
    .addHelpText('after', '\nExamples:\n  mlpkit export iris.mlpkit --onnx iris.onnx\n  mlpkit export iris.mlpkit --tfjs iris-tfjs')
    .action(exportModel);

  withData(
    cli.command('search').description('grid or random search with k-fold cross-validation, on every core or through Redis'),
    'classification (MLPClassifier) or regression (MLPRegressor)',
  )
    .option('--grid <json>', 'values per estimator option, every combination tried, e.g. \'{"alpha":[1e-4,1e-3]}\'', jsonObject('--grid'))
    .option('--random <n>', 'try n parameter sets drawn from --space instead of a grid', positiveInt('--random'))
    .option('--space <json>', 'per option a list or a {"min","max","log","integer"} range, for --random', jsonObject('--space'))
    .option('--options <json>', 'estimator options every trial shares, e.g. \'{"maxIter":50}\'', jsonObject('--options'))
    .option('--folds <k>', 'cross-validation folds', positiveInt('--folds'), 5)
    .option('--seed <n>', 'seed of the folds, the draws and the estimators', number('--seed', 0, Number.MAX_SAFE_INTEGER), 0)
    .option('--workers <n>', 'trials at once on worker threads (default: one per core)', positiveInt('--workers'))
    .option('--redis <url>', 'run the trials on `mlpkit worker` processes through this Redis server')
    .option('--queue <name>', 'queue name in Redis (default mlpkit-trials)')
    .option('-o, --out <file>', 'write the ranked results here: .csv or .json')
    .option('--save-best <file>', 'train the best parameters on every row and save the model here')
    .addHelpText(
      'after',
      `
Options are those of MLPClassifier and MLPRegressor (hiddenLayerSizes, alpha, learningRateInit,
maxIter, activation, solver, …). The table is the same with any --workers and through Redis.

Examples:
  mlpkit search data/digits.csv.gz --target digit --grid '{"alpha":[1e-4,1e-3],"hiddenLayerSizes":[[32],[64]]}' --options '{"maxIter":50}'
  mlpkit search data/iris.csv --target species --random 20 --space '{"alpha":{"min":1e-5,"max":1e-1,"log":true}}' --out results.csv
  mlpkit search data/digits.csv.gz --target digit --grid '{"alpha":[1e-4,1e-3]}' --redis redis://127.0.0.1:6379 --save-best best.mlpkit`,
    )
    .action((file, options) => searchCommand(file, options, globalOptions, (message) => new UsageError(message)));

  cli
    .command('worker')
    .description('run the trials of searches queued in Redis (mlpkit search --redis, or executor bullmq)')
    .requiredOption('--redis <url>', 'the Redis server of the queue, e.g. redis://127.0.0.1:6379')
    .option('--concurrency <n>', 'trials at once', positiveInt('--concurrency'), 1)
    .option('--queue <name>', 'queue name (default mlpkit-trials)')
    .option(
      '--lock-duration <ms>',
      "how long a trial stays locked without renewal: a dead worker's trial moves on after it",
      positiveInt('--lock-duration'),
    )
    .addHelpText(
      'after',
      `
Stops on SIGINT or SIGTERM after the trials in hand. A worker that dies mid-trial loses
nothing: after the lock duration (default 30 s) another worker runs the trial again.

Example:
  mlpkit worker --redis redis://10.0.0.5:6379 --concurrency 2`,
    )
    .action((options) => workerCommand(options, globalOptions));

  cli
    .command('info')
    .description('each backend: available or why not, instruction set and threads')
    .addHelpText('after', '\nExample:\n  mlpkit info\n  MLPKIT_BACKEND=js mlpkit info')
    .action(info);

  return cli;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mlpkit: ${message.split('\n')[0]}\n`);
    if (globalOptions.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}

await main(process.argv);
