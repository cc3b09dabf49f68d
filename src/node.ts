/**
 * The Node.js entry of mlpkit: everything of the universal entry, plus the native backend.
 * Bundles for browsers, workers and edge runtimes get `index.ts`, which imports nothing from Node.
 */
import { loadNativeBackend } from './backends/native.js';
import { loadWasmBackendNode } from './backends/wasm/node.js';
import { setBackendLoader } from './registry.js';

setBackendLoader('native', loadNativeBackend);
setBackendLoader('wasm', loadWasmBackendNode);

export * from './index.js';
export { initWasm } from './backends/wasm/node.js';
export { compareBackends, type CompareOptions, type BackendComparison, type Comparison } from './compare.js';
