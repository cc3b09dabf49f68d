/**
 * Loading the WebAssembly backend: the AssemblyScript build of assembly/, in two flavours
 * compiled from one source — `mlpkit-simd.wasm` (128-bit SIMD) and `mlpkit-scalar.wasm` — the
 * right one chosen by whether the runtime validates a tiny SIMD module. Nothing here imports
 * from Node, so it runs in browsers, workers, Deno, Bun and Cloudflare Workers; the module is
 * compiled once and every model gets an instance of its own (model.ts).
 */
import type { Backend } from '../../backend.js';
import { typeError } from '../../errors.js';
import { BackendAbsent, setBackendLoader } from '../../registry.js';
import { WASM_EXPORT_NAMES } from './instance.js';
import { wasmBackend } from './model.js';

/** Where the compiled module comes from: the module itself, its bytes, or a URL (or its fetched response). */
export type WasmSource = WebAssembly.Module | BufferSource | URL | string | Response | PromiseLike<Response>;

/** What `initWasm` loaded. */
export interface WasmInfo {
  /** 'simd128' for the SIMD build, 'scalar' for the other. */
  readonly isa: 'simd128' | 'scalar';
}

/** A tiny module using f32x4 instructions: whether this runtime's WebAssembly has 128-bit SIMD. */
const SIMD_PROBE = Uint8Array.of(
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  7,
  1,
  96,
  2,
  125,
  125,
  1,
  125,
  3,
  2,
  1,
  0,
  7,
  8,
  1,
  4,
  115,
  105,
  109,
  100,
  0,
  0,
  10,
  18,
  1,
  16,
  0,
  32,
  0,
  253,
  19,
  32,
  1,
  253,
  19,
  253,
  228,
  1,
  253,
  31,
  0,
  11,
);

/** Whether this runtime runs WebAssembly SIMD (the `mlpkit-simd.wasm` build). */
export function wasmSimdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** File names of the two builds, in dist/wasm/ of the package. */
export const WASM_FILES = { simd: 'mlpkit-simd.wasm', scalar: 'mlpkit-scalar.wasm' } as const;

/**
 * URL of a build next to this module. Each is a `new URL('<string literal>', import.meta.url)`,
 * the one form Vite and webpack 5 recognise in library code: they copy the file into the build
 * output and rewrite the URL. esbuild leaves it as it is (the `mlpkit/inline` entry is for it).
 */
export function defaultWasmUrl(simd = wasmSimdSupported()): URL {
  return simd
    ? new URL('../../../dist/wasm/mlpkit-simd.wasm', import.meta.url)
    : new URL('../../../dist/wasm/mlpkit-scalar.wasm', import.meta.url);
}

// ---------------------------------------------------------------------------------------------
// Loading

interface ActiveModule {
  readonly module: WebAssembly.Module;
  readonly isa: 'simd128' | 'scalar';
  readonly backend: Backend;
}

let active: ActiveModule | undefined;

/** The builds' bytes, when the `mlpkit/inline` entry has embedded them: initWasm() then fetches nothing. */
let embedded: ((simd: boolean) => Uint8Array<ArrayBuffer>) | undefined;

/** Called by the inline entry (src/inline.ts): initWasm() without a source compiles these bytes. */
export function setEmbeddedWasm(bytes: (simd: boolean) => Uint8Array<ArrayBuffer>): void {
  embedded = bytes;
}

/**
 * Makes `module` the WebAssembly backend's module (synchronously: it is already compiled).
 * Used by `initWasm` and by the Node entry, which compiles the file in place.
 */
export function useWasmModule(module: WebAssembly.Module): WasmInfo {
  if (!(module instanceof WebAssembly.Module)) throw typeError('module', 'a WebAssembly.Module', module);
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = WASM_EXPORT_NAMES.filter((name) => !names.has(name));
  if (missing.length > 0) {
    throw new TypeError(
      `module must be the mlpkit WebAssembly module (mlpkit-simd.wasm or mlpkit-scalar.wasm), got a module without ${missing.join(', ')}`,
    );
  }
  const backend = wasmBackend(module);
  const isa = backend.isa as WasmInfo['isa'];
  active = { module, isa, backend };
  setBackendLoader('wasm', loadWasmBackend); // forgets any earlier failure to load
  return { isa };
}

/** The loader of the universal entry: the backend once `initWasm` has run. */
export function loadWasmBackend(): Backend {
  if (!active) {
    throw new BackendAbsent('the WebAssembly module is not initialized in this runtime: call await initWasm() first');
  }
  return active.backend;
}

/** The module in use, if any (tests and benchmarks build kernel instances from it). */
export function activeWasmModule(): WebAssembly.Module | undefined {
  return active?.module;
}

function isResponse(value: unknown): value is Response {
  return typeof Response !== 'undefined' && value instanceof Response;
}

/** The second line of every error about a module that could not be fetched: the ways around a fetch. */
const FETCH_HINT =
  "  to load it without this fetch: import { initWasm } from 'mlpkit/inline' (the module embedded in the code), " +
  'or pass the module: initWasm(bytes | URL | WebAssembly.Module | Response)';

/** An error's message with its cause's (Node's fetch says only "fetch failed" and puts the reason in the cause). */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? (error.cause as { message?: unknown; code?: unknown } | undefined) : undefined;
  const detail = cause?.message || cause?.code;
  return detail ? `${message} (${String(detail)})` : message;
}

/** Where a URL source points, made absolute against the page when there is one (bundled code fetches relative to it). */
function absolute(url: string | URL): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).href;
  } catch {
    return String(url);
  }
}

async function fetchModule(url: string | URL): Promise<Response> {
  try {
    return await fetch(url);
  } catch (error) {
    throw new Error(`the WebAssembly module could not be fetched from ${absolute(url)}: ${reason(error)}\n${FETCH_HINT}`, { cause: error });
  }
}

async function compileResponse(response: Response, requested?: string | URL): Promise<WebAssembly.Module> {
  const url = response.url || (requested === undefined ? 'the Response' : absolute(requested));
  if (!response.ok) {
    throw new Error(
      `the WebAssembly module could not be fetched from ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}\n${FETCH_HINT}`,
    );
  }
  const type = response.headers.get('content-type');
  const streaming = typeof WebAssembly.compileStreaming === 'function' && type?.startsWith('application/wasm');
  try {
    return streaming ? await WebAssembly.compileStreaming(response) : await WebAssembly.compile(await response.arrayBuffer());
  } catch (error) {
    // Typically a server that answers every unknown path with its index.html (content-type text/html).
    throw new Error(
      `the file fetched from ${url} (content-type ${type ?? 'none'}) is not a WebAssembly module: ${reason(error)}\n${FETCH_HINT}`,
      { cause: error },
    );
  }
}

/** Compiles (or takes) the module a `WasmSource` describes. */
export async function compileWasmSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  if (typeof source === 'string' || source instanceof URL) return compileResponse(await fetchModule(source), source);
  if (isResponse(source)) return compileResponse(source);
  if (source && typeof (source as PromiseLike<Response>).then === 'function') {
    const response = await source;
    if (!isResponse(response)) throw typeError('source', 'a promise of a Response', response);
    return compileResponse(response);
  }
  throw typeError('source', 'a WebAssembly.Module, the bytes of one, a URL or a Response', source);
}

/**
 * Loads the WebAssembly backend. Call it once before creating models with
 * `backend: 'wasm'` in browsers, workers, Deno, Bun and Cloudflare Workers (Node loads the
 * module by itself). Until it has run, `listBackends()` reports wasm as not initialized and
 * `'auto'` picks the JavaScript backend.
 *
 * @param source where the module comes from: a `WebAssembly.Module` (in Cloudflare Workers,
 *   which forbid compiling at run time, import the `.wasm` file and pass it here), its bytes,
 *   a URL, or a `Response`. Default: `mlpkit-simd.wasm` when the runtime has WebAssembly SIMD,
 *   `mlpkit-scalar.wasm` otherwise — embedded in the code when imported from `mlpkit/inline`,
 *   else fetched from next to this package's code (Vite and webpack copy the files into the build).
 * @returns the instruction set of the build that was loaded.
 * @throws TypeError for a source of the wrong kind or a module that is not mlpkit's; an Error
 *   naming the URL and the HTTP status or network error when the module cannot be fetched, and
 *   how to load it instead; the compile error when the bytes are not a module.
 * @example
 * ```ts
 * import { initWasm, MLP } from 'mlpkit';
 *
 * await initWasm(); // fetches the SIMD or the scalar build next to the package
 * const net = new MLP({ inputs: 2, layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }], backend: 'wasm' });
 * ```
 * @example
 * ```ts
 * // esbuild (which does not copy the .wasm files), single-file builds: the module is in the code
 * import { initWasm, MLP } from 'mlpkit/inline';
 *
 * await initWasm(); // fetches nothing
 * ```
 * @example
 * ```ts
 * // Cloudflare Workers: the .wasm import is a compiled WebAssembly.Module
 * import wasm from 'mlpkit/wasm/mlpkit-simd.wasm';
 * import { initWasm, MLP } from 'mlpkit';
 *
 * await initWasm(wasm);
 * ```
 */
export async function initWasm(source?: WasmSource): Promise<WasmInfo> {
  if (source === undefined) {
    if (active) return { isa: active.isa };
    const simd = wasmSimdSupported();
    source = embedded ? embedded(simd) : defaultWasmUrl(simd);
  }
  return useWasmModule(await compileWasmSource(source));
}
