/**
 * The WebAssembly backend in Node: the module is read from dist/wasm/ and compiled
 * synchronously the first time a model (or `listBackends()`) asks for it, so
 * `new MLP({ backend: 'wasm' })` works without `initWasm()`. MLPKIT_WASM_BUILD=simd|scalar
 * picks a build (default: SIMD when the runtime validates it); the tests use it to run every
 * suite on both builds.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../backend.js';
import { checkOneOf } from '../../errors.js';
import {
  activeWasmModule,
  compileWasmSource,
  defaultWasmUrl,
  loadWasmBackend,
  useWasmModule,
  wasmSimdSupported,
  type WasmInfo,
  type WasmSource,
} from './loader.js';

export type WasmBuild = 'simd' | 'scalar';

/** The build MLPKIT_WASM_BUILD asks for, else the best one this runtime runs. */
export function wasmBuildFromEnvironment(): WasmBuild {
  const value = process.env.MLPKIT_WASM_BUILD;
  if (value === undefined || value === '') return wasmSimdSupported() ? 'simd' : 'scalar';
  const build = checkOneOf('the MLPKIT_WASM_BUILD environment variable', value, ['simd', 'scalar'] as const);
  if (build === 'simd' && !wasmSimdSupported()) throw new Error('MLPKIT_WASM_BUILD=simd, but the WebAssembly of this runtime has no SIMD');
  return build;
}

/** Path of a build in dist/wasm/. */
export function wasmFilePath(build: WasmBuild): string {
  return fileURLToPath(defaultWasmUrl(build === 'simd'));
}

/** Reads and compiles a build synchronously. */
export function compileWasmFileSync(build: WasmBuild): WebAssembly.Module {
  const path = wasmFilePath(build);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = readFileSync(path) as Uint8Array<ArrayBuffer>;
  } catch (error) {
    throw new Error(
      `the WebAssembly module could not be read: ${(error as Error).message.split('\n')[0]}\n` +
        '  to build it: npm run build:wasm  (needs the dev dependency assemblyscript)',
      { cause: error },
    );
  }
  return new WebAssembly.Module(bytes);
}

/** The loader of the Node entry: compiles the module in place on first use. */
export function loadWasmBackendNode(): Backend {
  if (!activeWasmModule()) useWasmModule(compileWasmFileSync(wasmBuildFromEnvironment()));
  return loadWasmBackend();
}

function isFilePath(source: unknown): source is string | URL {
  if (source instanceof URL) return source.protocol === 'file:';
  return typeof source === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(source);
}

/**
 * Loads the WebAssembly backend. In Node this is optional: the module is compiled from
 * dist/wasm/ on first use. Pass a source to use another build or file.
 *
 * @param source a `WebAssembly.Module`, its bytes, a URL, a file path or a `Response`.
 *   Default: the build MLPKIT_WASM_BUILD names, else the SIMD build when the runtime has SIMD.
 * @returns the instruction set of the build that was loaded.
 * @example
 * ```ts
 * import { initWasm, MLP } from 'mlpkit';
 *
 * await initWasm(new URL('./mlpkit-scalar.wasm', import.meta.url)); // a file: URL or path is read from disk
 * const net = new MLP({ inputs: 2, layers: [{ units: 1, activation: 'sigmoid' }], backend: 'wasm' });
 * ```
 */
export async function initWasm(source?: WasmSource): Promise<WasmInfo> {
  if (source === undefined) {
    loadWasmBackendNode();
    return { isa: loadWasmBackend().isa as WasmInfo['isa'] };
  }
  if (isFilePath(source)) return useWasmModule(new WebAssembly.Module(readFileSync(source) as Uint8Array<ArrayBuffer>));
  return useWasmModule(await compileWasmSource(source));
}
