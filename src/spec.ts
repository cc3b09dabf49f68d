/**
 * What a model is: the public option types of `new MLP(...)` and their normalized form,
 * the `ModelSpec` every backend receives. All names of activations, losses, optimizers,
 * schedules and initializers live here, with the numeric codes the compiled backends use.
 */
import { checkBoolean, checkInteger, checkKnownKeys, checkNumber, checkOneOf, checkOptions, typeError, rangeError } from './errors.js';
import { paramLayout } from './layout.js';

/**
 * Every activation, loss and optimizer, in code order: the numeric code the compiled backends
 * use is the index in these lists. `scripts/generate-tables.ts` writes them into
 * native/generated/tables.h and assembly/generated/tables.ts, so a name added here reaches every
 * backend's enum; append new names at the end so that codes never change meaning.
 */
export const ACTIVATIONS = ['identity', 'sigmoid', 'tanh', 'relu', 'leaky-relu', 'elu', 'softmax', 'silu', 'gelu'] as const;
export const LOSSES = ['mse', 'half-mse', 'mae', 'binary-cross-entropy', 'cross-entropy'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam'] as const;
export const SCHEDULES = ['constant', 'step', 'exponential', 'inverse-time'] as const;
export const INITS = ['auto', 'uniform', 'xavier-uniform', 'xavier-normal', 'he-uniform', 'he-normal', 'zeros'] as const;
export const BACKEND_NAMES = ['native', 'wasm', 'js'] as const;

export type Activation = (typeof ACTIVATIONS)[number];
export type Loss = (typeof LOSSES)[number];
export type OptimizerType = (typeof OPTIMIZERS)[number];
export type ScheduleType = (typeof SCHEDULES)[number];
export type Init = (typeof INITS)[number];
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What the rest of mlpkit needs to know about an activation besides its formula. */
export interface ActivationTraits {
  /** Default α, for the activations that take one (leaky-relu's slope, elu's scale); undefined otherwise. */
  readonly alpha?: number;
  /** The 'auto' initializer draws He-uniform weights before it (the relu family), Xavier-uniform otherwise. */
  readonly heInit: boolean;
  /** Applied to a whole row (softmax): allowed on the output layer only. */
  readonly rowwise: boolean;
  /**
   * φ' needs the pre-activation z: it cannot be had from the output a = φ(z) alone, so the
   * compiled backends keep z beside a for layers with this activation.
   */
  readonly derivativeFromInput: boolean;
}

export const ACTIVATION_TRAITS: Readonly<Record<Activation, ActivationTraits>> = {
  identity: { heInit: false, rowwise: false, derivativeFromInput: false },
  sigmoid: { heInit: false, rowwise: false, derivativeFromInput: false },
  tanh: { heInit: false, rowwise: false, derivativeFromInput: false },
  relu: { heInit: true, rowwise: false, derivativeFromInput: false },
  'leaky-relu': { alpha: 0.01, heInit: true, rowwise: false, derivativeFromInput: false },
  elu: { alpha: 1, heInit: true, rowwise: false, derivativeFromInput: false },
  softmax: { heInit: false, rowwise: true, derivativeFromInput: false },
  /** x·σ(x), also called swish. */
  silu: { heInit: true, rowwise: false, derivativeFromInput: true },
  /** The tanh approximation, PyTorch's `approximate='tanh'`: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
  gelu: { heInit: true, rowwise: false, derivativeFromInput: true },
};

/** The numeric code of a name: its index in its list. */
const codes = <T extends string>(names: readonly T[]): Readonly<Record<T, number>> =>
  Object.fromEntries(names.map((name, code) => [name, code])) as Record<T, number>;
export const ACTIVATION_CODE = codes(ACTIVATIONS);
export const LOSS_CODE = codes(LOSSES);
export const OPTIMIZER_CODE = codes(OPTIMIZERS);

const DEFAULT_LEARNING_RATE: Readonly<Record<OptimizerType, number>> = {
  sgd: 0.01,
  momentum: 0.01,
  nesterov: 0.01,
  adam: 0.001,
};

/** One layer as the user describes it. */
export interface LayerOptions {
  /** Number of units (neurons). */
  units: number;
  /** Activation φ applied after the affine map. Default: 'relu' for hidden layers, 'identity' for the output layer. */
  activation?: Activation;
  /** α of leaky-relu (default 0.01) or elu (default 1). */
  alpha?: number;
  /** Whether the layer has a bias (threshold) vector. Default true. */
  bias?: boolean;
}

/** A learning-rate schedule over updates t = 0, 1, 2, … (one update per mini-batch). */
export type ScheduleOptions =
  | { type: 'constant' }
  /** lr · factor^⌊t / stepSize⌋ */
  | { type: 'step'; factor: number; stepSize: number }
  /** lr · decayRate^(t / decaySteps), or ^⌊t / decaySteps⌋ with `staircase` */
  | { type: 'exponential'; decayRate: number; decaySteps?: number; staircase?: boolean }
  /** lr / (1 + decayRate · t / decaySteps), or ⌊t / decaySteps⌋ with `staircase` */
  | { type: 'inverse-time'; decayRate: number; decaySteps?: number; staircase?: boolean };

export interface OptimizerOptions {
  type: OptimizerType;
  /** η. Default 0.001 for adam, 0.01 otherwise. */
  learningRate?: number;
  /** μ of momentum and nesterov. Default 0.9. */
  momentum?: number;
  /** Adam's β1. Default 0.9. */
  beta1?: number;
  /** Adam's β2. Default 0.999. */
  beta2?: number;
  /** Adam's ε. Default 1e-8. */
  epsilon?: number;
  /** Learning-rate decay over updates; works with every optimizer. Default constant. */
  schedule?: ScheduleOptions;
}

/** Options of `new MLP(...)`. */
export interface MLPOptions {
  /** Length m of each input vector. */
  inputs: number;
  /** Hidden layers then the output layer. */
  layers: LayerOptions[];
  /** Default: 'cross-entropy' after softmax, 'binary-cross-entropy' after sigmoid, 'mse' otherwise. */
  loss?: Loss;
  /** Default `{ type: 'adam', learningRate: 0.001 }`. A bare name takes that optimizer's defaults. */
  optimizer?: OptimizerType | OptimizerOptions;
  /**
   * Weight initialization. 'auto' (default) is He-uniform before relu-family activations
   * and Xavier-uniform otherwise. Biases always start at 0.
   */
  init?: Init;
  /** a of the 'uniform' init, which draws weights from [−a, a]. Default 0.5. */
  initRange?: number;
  /** α of the penalty α‖W‖² added to the loss (weights only, not biases). Default 0. */
  l2?: number;
  /** Inverted-dropout rate of every hidden layer, or one rate per hidden layer. Default 0. */
  dropout?: number | number[];
  /** Seed of every random choice (init, shuffling, dropout, validation split). Default: random, see `MLP.seed`. */
  seed?: number;
  /** Backend to run on. Default 'auto' (or the MLPKIT_BACKEND environment variable). */
  backend?: 'auto' | BackendName;
  /** Worker threads of the native backend. Default: one per core. */
  threads?: number;
  /** Fit a StandardScaler on the first `fit`'s training data and apply it to every input. Default false. */
  standardize?: boolean;
}

export interface LayerSpec {
  readonly units: number;
  readonly activation: Activation;
  /** α of leaky-relu / elu; 0 for the other activations. */
  readonly alpha: number;
  readonly bias: boolean;
}

export type ScheduleSpec = Readonly<
  | { type: 'constant' }
  | { type: 'step'; factor: number; stepSize: number }
  | { type: 'exponential'; decayRate: number; decaySteps: number; staircase: boolean }
  | { type: 'inverse-time'; decayRate: number; decaySteps: number; staircase: boolean }
>;

export interface OptimizerSpec {
  readonly type: OptimizerType;
  readonly learningRate: number;
  readonly momentum: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly schedule: ScheduleSpec;
}

/** The normalized model: what every backend receives and what a model file stores. */
export interface ModelSpec {
  readonly inputs: number;
  readonly layers: readonly LayerSpec[];
  readonly loss: Loss;
  readonly optimizer: OptimizerSpec;
  readonly init: Init;
  readonly initRange: number;
  readonly l2: number;
  /** Dropout rate per layer (the output layer's is always 0). */
  readonly dropout: readonly number[];
  readonly seed: number;
}

const MAX_UNITS = 1 << 24;
/** Parameters are addressed with 32-bit signed offsets in every backend. */
const MAX_PARAMETERS = 2 ** 31 - 1;
function normalizeLayer(value: unknown, index: number, isOutput: boolean): LayerSpec {
  const name = `layers[${index}]`;
  const options = checkOptions<LayerOptions>(name, value);
  checkKnownKeys(name, options, ['units', 'activation', 'alpha', 'bias']);
  const units = checkInteger(`${name}.units`, options.units, 1, MAX_UNITS);
  const activation = checkOneOf(`${name}.activation`, options.activation ?? (isOutput ? 'identity' : 'relu'), ACTIVATIONS);
  const traits = ACTIVATION_TRAITS[activation];
  if (traits.rowwise && !isOutput) {
    throw new RangeError(`${name}.activation '${activation}' is only allowed on the output layer, got it on hidden layer ${index}`);
  }
  if (activation === 'softmax' && units < 2) {
    throw rangeError(`${name}.units`, 'at least 2 for a softmax output (a distribution over classes)', units);
  }
  let alpha = traits.alpha ?? 0;
  if (options.alpha !== undefined) {
    if (traits.alpha === undefined) {
      const takers = ACTIVATIONS.filter((a) => ACTIVATION_TRAITS[a].alpha !== undefined)
        .map((a) => `'${a}'`)
        .join(' and ');
      throw new RangeError(`${name}.alpha only applies to ${takers}, got it with '${activation}'`);
    }
    alpha = checkNumber(`${name}.alpha`, options.alpha, { min: 0 });
  }
  const bias = options.bias === undefined ? true : checkBoolean(`${name}.bias`, options.bias);
  return { units, activation, alpha, bias };
}

export function normalizeSchedule(value: unknown, name = 'optimizer.schedule'): ScheduleSpec {
  if (value === undefined) return { type: 'constant' };
  const options = checkOptions<{ type: ScheduleType } & Record<string, unknown>>(name, value);
  const type = checkOneOf(`${name}.type`, options.type, SCHEDULES);
  switch (type) {
    case 'constant':
      checkKnownKeys(name, options, ['type']);
      return { type };
    case 'step':
      checkKnownKeys(name, options, ['type', 'factor', 'stepSize']);
      return {
        type,
        factor: checkNumber(`${name}.factor`, options.factor, { min: 0, max: 1, exclusiveMin: true }),
        stepSize: checkInteger(`${name}.stepSize`, options.stepSize, 1),
      };
    case 'exponential':
    case 'inverse-time': {
      checkKnownKeys(name, options, ['type', 'decayRate', 'decaySteps', 'staircase']);
      const decayRate =
        type === 'exponential'
          ? checkNumber(`${name}.decayRate`, options.decayRate, { min: 0, max: 1, exclusiveMin: true })
          : checkNumber(`${name}.decayRate`, options.decayRate, { min: 0 });
      return {
        type,
        decayRate,
        decaySteps:
          options.decaySteps === undefined ? 1 : checkNumber(`${name}.decaySteps`, options.decaySteps, { min: 0, exclusiveMin: true }),
        staircase: options.staircase === undefined ? false : checkBoolean(`${name}.staircase`, options.staircase),
      };
    }
  }
}

export function normalizeOptimizer(value: unknown): OptimizerSpec {
  const options: Partial<OptimizerOptions> =
    typeof value === 'string' ? { type: value as OptimizerType } : checkOptions<OptimizerOptions>('optimizer', value ?? { type: 'adam' });
  checkKnownKeys('optimizer', options, ['type', 'learningRate', 'momentum', 'beta1', 'beta2', 'epsilon', 'schedule']);
  const type = checkOneOf(typeof value === 'string' ? 'optimizer' : 'optimizer.type', options.type, OPTIMIZERS);
  const fraction = (key: 'momentum' | 'beta1' | 'beta2', fallback: number): number =>
    options[key] === undefined ? fallback : checkNumber(`optimizer.${key}`, options[key], { min: 0, max: 1, exclusiveMax: true });
  if (type !== 'momentum' && type !== 'nesterov' && options.momentum !== undefined) {
    throw new RangeError(`optimizer.momentum only applies to 'momentum' and 'nesterov', got it with '${type}'`);
  }
  if (type !== 'adam' && (options.beta1 ?? options.beta2 ?? options.epsilon) !== undefined) {
    throw new RangeError(`optimizer.beta1, beta2 and epsilon only apply to 'adam', got them with '${type}'`);
  }
  return {
    type,
    learningRate:
      options.learningRate === undefined
        ? DEFAULT_LEARNING_RATE[type]
        : checkNumber('optimizer.learningRate', options.learningRate, { min: 0, exclusiveMin: true }),
    momentum: fraction('momentum', 0.9),
    beta1: fraction('beta1', 0.9),
    beta2: fraction('beta2', 0.999),
    epsilon: options.epsilon === undefined ? 1e-8 : checkNumber('optimizer.epsilon', options.epsilon, { min: 0, exclusiveMin: true }),
    schedule: normalizeSchedule(options.schedule),
  };
}

function defaultLoss(output: Activation): Loss {
  if (output === 'softmax') return 'cross-entropy';
  if (output === 'sigmoid') return 'binary-cross-entropy';
  return 'mse';
}

/** Checks that a loss fits the output layer: the cross-entropies need outputs that are probabilities. */
export function checkLossFitsOutput(loss: Loss, output: Activation): void {
  if (loss === 'cross-entropy' && output !== 'softmax') {
    throw new RangeError(
      `loss 'cross-entropy' needs a softmax output layer (a distribution over classes), got output activation '${output}'` +
        (output === 'sigmoid' ? "; use 'binary-cross-entropy' with sigmoid outputs" : ''),
    );
  }
  if (loss === 'binary-cross-entropy' && output !== 'sigmoid') {
    throw new RangeError(
      `loss 'binary-cross-entropy' needs a sigmoid output layer (each output a probability), got output activation '${output}'` +
        (output === 'softmax' ? "; use 'cross-entropy' with softmax outputs" : ''),
    );
  }
}

/** A fresh random seed (32 bits), used when the caller gives none. */
export function randomSeed(): number {
  const words = new Uint32Array(1);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(words);
  else words[0] = Math.floor(Math.random() * 4294967296);
  return words[0]!;
}

export function checkSeed(name: string, value: unknown): number {
  return checkInteger(name, value, 0, Number.MAX_SAFE_INTEGER);
}

/** Validates `new MLP(options)` and returns the model spec every backend receives. */
export function normalizeModelSpec(value: unknown): ModelSpec {
  const options = checkOptions<MLPOptions>('options', value);
  if (value === undefined) throw typeError('options', 'an options object with inputs and layers', value);
  checkKnownKeys('options', options, [
    'inputs',
    'layers',
    'loss',
    'optimizer',
    'init',
    'initRange',
    'l2',
    'dropout',
    'seed',
    'backend',
    'threads',
    'standardize',
  ]);
  const inputs = checkInteger('inputs', options.inputs, 1, MAX_UNITS);
  if (!Array.isArray(options.layers)) throw typeError('layers', 'an array of layers ({ units, activation? })', options.layers);
  if (options.layers.length === 0) throw rangeError('layers', 'at least one layer (the output layer)', options.layers);
  const layers = options.layers.map((layer, i) => normalizeLayer(layer, i, i === options.layers!.length - 1));
  const output = layers[layers.length - 1]!.activation;
  const loss = options.loss === undefined ? defaultLoss(output) : checkOneOf('loss', options.loss, LOSSES);
  checkLossFitsOutput(loss, output);

  const parameters = paramLayout(inputs, layers).size;
  if (parameters > MAX_PARAMETERS) {
    throw new RangeError(`layers describe ${parameters} parameters, more than the ${MAX_PARAMETERS} a model can hold`);
  }

  const hidden = layers.length - 1;
  let dropout: number[];
  if (options.dropout === undefined || typeof options.dropout === 'number') {
    const rate = checkNumber('dropout', options.dropout ?? 0, { min: 0, max: 1, exclusiveMax: true });
    dropout = layers.map((_, i) => (i < hidden ? rate : 0));
  } else if (Array.isArray(options.dropout)) {
    if (options.dropout.length !== hidden) {
      throw rangeError('dropout', `a rate or an array of one rate per hidden layer (${hidden})`, options.dropout);
    }
    dropout = [...options.dropout.map((r, i) => checkNumber(`dropout[${i}]`, r, { min: 0, max: 1, exclusiveMax: true })), 0];
  } else {
    throw typeError('dropout', 'a number or an array of numbers', options.dropout);
  }

  return {
    inputs,
    layers,
    loss,
    optimizer: normalizeOptimizer(options.optimizer),
    init: options.init === undefined ? 'auto' : checkOneOf('init', options.init, INITS),
    initRange: options.initRange === undefined ? 0.5 : checkNumber('initRange', options.initRange, { min: 0, exclusiveMin: true }),
    l2: options.l2 === undefined ? 0 : checkNumber('l2', options.l2, { min: 0 }),
    dropout,
    seed: options.seed === undefined ? randomSeed() : checkSeed('seed', options.seed),
  };
}

/** The inverse of `normalizeModelSpec`: minimal options that normalize back to the same spec (used by model files). */
export function specToOptions(spec: ModelSpec): MLPOptions {
  const { optimizer: o } = spec;
  const optimizer: OptimizerOptions = { type: o.type, learningRate: o.learningRate };
  if (o.type === 'momentum' || o.type === 'nesterov') optimizer.momentum = o.momentum;
  if (o.type === 'adam') Object.assign(optimizer, { beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon });
  if (o.schedule.type !== 'constant') optimizer.schedule = { ...o.schedule } as ScheduleOptions;
  return {
    inputs: spec.inputs,
    layers: spec.layers.map(({ units, activation, alpha, bias }) =>
      ACTIVATION_TRAITS[activation].alpha !== undefined ? { units, activation, alpha, bias } : { units, activation, bias },
    ),
    loss: spec.loss,
    optimizer,
    init: spec.init,
    initRange: spec.initRange,
    l2: spec.l2,
    dropout: spec.dropout.slice(0, -1),
    seed: spec.seed,
  };
}
