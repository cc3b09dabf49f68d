/**
 * Argument checking shared by the whole API. Every message names the argument, what was
 * expected and what was received, e.g.
 * `x must be a Float32Array of length n*inputs = 6272, got 6270`.
 */

/** A short, readable description of any value, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n (bigint)`;
  if (typeof value === 'boolean' || typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    return 'length' in value ? `a ${name} of length ${(value as unknown as ArrayLike<unknown>).length}` : `a ${name}`;
  }
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** An exception a caller's code threw, for a message: its name and message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describe(error);
}

export function typeError(name: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${name} must be ${expected}, got ${describe(received)}`);
}

export function rangeError(name: string, expected: string, received: unknown): RangeError {
  return new RangeError(`${name} must be ${expected}, got ${describe(received)}`);
}

/** A finite number within [min, max] (or (min, max] when `exclusiveMin`). */
export function checkNumber(
  name: string,
  value: unknown,
  { min = -Infinity, max = Infinity, exclusiveMin = false, exclusiveMax = false } = {},
): number {
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  const low = exclusiveMin ? value > min : value >= min;
  const high = exclusiveMax ? value < max : value <= max;
  if (!Number.isFinite(value) || !low || !high) {
    const lo = min === -Infinity ? '' : `${exclusiveMin ? '>' : '>='} ${min}`;
    const hi = max === Infinity ? '' : `${exclusiveMax ? '<' : '<='} ${max}`;
    const bounds = [lo, hi].filter(Boolean).join(' and ');
    throw rangeError(name, `a finite number${bounds ? ' ' + bounds : ''}`, value);
  }
  return value;
}

/** An integer within [min, max]. */
export function checkInteger(name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number') throw typeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    const bounds = max === Infinity ? `>= ${min}` : `between ${min} and ${max}`;
    throw rangeError(name, `an integer ${bounds}`, value);
  }
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

/** One of a fixed set of strings. */
export function checkOneOf<T extends string>(name: string, value: unknown, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw (typeof value === 'string' ? rangeError : typeError)(name, `one of ${options.map((o) => `'${o}'`).join(', ')}`, value);
  }
  return value as T;
}

/**
 * A plain object (options bag), read once into a copy of its own enumerable properties, so a
 * getter that throws is reported by name here and one that changes its answer cannot make a
 * checked value differ from the one used; `undefined` becomes `{}`.
 */
export function checkOptions<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name, 'an options object', value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    try {
      copy[key] = (value as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`${name}.${key} could not be read: its getter threw ${describeError(error)}`, { cause: error });
    }
  }
  return copy as Partial<T>;
}

/** Rejects option keys that are not known, so a typo never passes silently. */
export function checkKnownKeys(name: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new RangeError(`${name} has an unknown option '${key}'; expected one of ${known.join(', ')}`);
    }
  }
}

type TypedArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;

/** A typed array of the given kind with at least `length` elements, on a live buffer. */
export function checkTypedArray<C extends TypedArrayConstructor>(name: string, value: unknown, kind: C, length: number): InstanceType<C> {
  if (!(value instanceof kind)) throw typeError(name, `a ${kind.name}`, value);
  if (!ArrayBuffer.isView(value)) throw typeError(name, `a ${kind.name} itself (a Proxy of one cannot be read)`, value);
  if ((value as InstanceType<C>).length < length) throw rangeError(name, `a ${kind.name} of length at least ${length}`, value);
  return value as InstanceType<C>;
}

/**
 * The base of mlpkit's named errors: each subclass states its `name` (as a string, so that
 * minified bundles keep it) and a stable `code` to branch on (`error.code === 'MLPKIT_BUSY'`);
 * `cause` keeps what went wrong below.
 */
export abstract class MlpkitError extends Error {
  abstract readonly code: string;
}

/** Thrown by a call on a model that is training: `fit` is running, or a chunk of it is in flight. Code `MLPKIT_BUSY`. */
export class ModelBusyError extends MlpkitError {
  override readonly name = 'ModelBusyError';
  readonly code = 'MLPKIT_BUSY';
}

/** Thrown by a call on a model after `dispose()`. Code `MLPKIT_DISPOSED`. */
export class ModelDisposedError extends MlpkitError {
  override readonly name = 'ModelDisposedError';
  readonly code = 'MLPKIT_DISPOSED';
}

/**
 * Thrown by a call that needs what only training provides: an estimator before `fit`, a model
 * that standardizes but has no fitted scaler. Code `MLPKIT_NOT_FITTED`.
 */
export class NotFittedError extends MlpkitError {
  override readonly name = 'NotFittedError';
  readonly code = 'MLPKIT_NOT_FITTED';
}

/** Thrown by a call on a model whose backend failed in the middle of a step (its memory may be half-updated). Code `MLPKIT_FAILED`. */
export class ModelFailedError extends MlpkitError {
  override readonly name = 'ModelFailedError';
  readonly code = 'MLPKIT_FAILED';
}
