/**
 * Which backend runs a model. Priority native → wasm → js; `backend` or the MLPKIT_BACKEND
 * environment variable forces one, and a forced backend that cannot load throws — there is
 * no silent fallback. An automatic choice that passes over a backend that failed to load
 * (as opposed to one this build or runtime does not include) warns once, saying what was
 * tried, why it failed, what is used instead and how to fix it.
 */
import type { Backend } from './backend.js';
import { jsBackend } from './backends/js.js';
import { checkOneOf } from './errors.js';
import { BACKEND_NAMES, type BackendName } from './spec.js';

/** What `listBackends()` reports for each backend. */
export interface BackendStatus {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why the backend is not available. */
  readonly reason?: string;
  /** Kernel instruction set in use when available ('scalar', 'simd128', 'avx2+fma', …). */
  readonly isa?: string;
  /** Default thread count when available. */
  readonly threads?: number;
}

/** Thrown when a backend that was asked for by name cannot be used. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason: string,
  ) {
    super(`mlpkit: the ${backend} backend is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

/**
 * A backend loader returns the backend or throws. `absent` marks a backend that this build
 * or runtime does not include: skipping it is expected and not worth a warning.
 */
export type BackendLoader = () => Backend;
export class BackendAbsent extends Error {}

const loaders: Record<BackendName, BackendLoader> = {
  native: () => {
    throw new BackendAbsent('this build of mlpkit does not include the native addon');
  },
  wasm: () => {
    throw new BackendAbsent('this build of mlpkit does not include the WebAssembly module');
  },
  js: () => jsBackend,
};

type Loaded = { backend: Backend } | { error: Error };
const loaded = new Map<BackendName, Loaded>();
let warnedFallback = false;

/** Installs the loader of a backend (used by the entry points that ship it). */
export function setBackendLoader(name: BackendName, loader: BackendLoader): void {
  loaders[name] = loader;
  loaded.delete(name);
}

function load(name: BackendName): Loaded {
  let entry = loaded.get(name);
  if (!entry) {
    try {
      entry = { backend: loaders[name]() };
    } catch (error) {
      entry = { error: error instanceof Error ? error : new Error(String(error)) };
    }
    loaded.set(name, entry);
  }
  return entry;
}

/**
 * Every backend, in priority order, with its availability and the reason when it is not.
 *
 * @example
 * ```ts
 * import { listBackends } from 'mlpkit';
 * console.table(listBackends());
 * // [{ name: 'native', available: false, reason: '…' }, …, { name: 'js', available: true, isa: 'scalar', threads: 1 }]
 * ```
 */
export function listBackends(): BackendStatus[] {
  return BACKEND_NAMES.map((name) => {
    const entry = load(name);
    return 'backend' in entry
      ? { name, available: true, isa: entry.backend.isa, threads: entry.backend.threads }
      : { name, available: false, reason: entry.error.message };
  });
}

function environmentChoice(): string | undefined {
  let value: string | undefined;
  try {
    value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MLPKIT_BACKEND;
  } catch {
    return undefined; // a runtime that guards its environment (Deno without --allow-env) refuses the read
  }
  return value === undefined || value === '' ? undefined : value;
}

function warnOnce(message: string): void {
  if (warnedFallback) return;
  warnedFallback = true;
  const proc = (globalThis as { process?: { emitWarning?: (m: string, o: object) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message, { code: 'MLPKIT_BACKEND_FALLBACK' } as object);
  else console.warn(message);
}

/** The backend for a model: the one named, else MLPKIT_BACKEND, else the best available. */
export function resolveBackend(requested: unknown = 'auto'): Backend {
  let choice = checkOneOf('backend', requested, ['auto', ...BACKEND_NAMES] as const);
  if (choice === 'auto') {
    const fromEnv = environmentChoice();
    if (fromEnv !== undefined) choice = checkOneOf('the MLPKIT_BACKEND environment variable', fromEnv, ['auto', ...BACKEND_NAMES] as const);
  }
  if (choice !== 'auto') {
    const entry = load(choice);
    if ('error' in entry) throw new BackendUnavailableError(choice, entry.error.message);
    return entry.backend;
  }
  const failures: string[] = [];
  for (const name of BACKEND_NAMES) {
    const entry = load(name);
    if ('backend' in entry) {
      if (failures.length > 0) {
        warnOnce(
          `mlpkit: ${failures.join('; ')}\n` +
            `  using: ${name} (${entry.backend.isa})\n` +
            `  to choose explicitly: MLPKIT_BACKEND=${name}, or the backend option of the model`,
        );
      }
      return entry.backend;
    }
    if (!(entry.error instanceof BackendAbsent)) failures.push(`${name} backend unavailable: ${entry.error.message}`);
  }
  throw new Error('mlpkit: no backend could be loaded'); // unreachable: js always loads
}
