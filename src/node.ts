/**
 * The Node.js entry of mlpkit: everything of the universal entry, plus the native backend and
 * ONNX's protobuf encoding. Bundles for browsers, workers and edge runtimes get `index.ts`,
 * which imports nothing from Node (and adds ONNX with `import 'mlpkit/onnx'`).
 */
import { loadNativeBackend } from './backends/native.js';
import { loadWasmBackendNode } from './backends/wasm/node.js';
import { ONNX_SUPPORT } from './interop/onnx-proto.js';
import { setFormat } from './interop/formats.js';
import { denseFromTfjs, denseToTfjs } from './interop/tfjs.js';
import { setBackendLoader } from './registry.js';
import { setExecutorLoader } from './selection/executor.js';

setBackendLoader('native', loadNativeBackend);
setBackendLoader('wasm', loadWasmBackendNode);
setFormat('onnx', ONNX_SUPPORT);
setFormat('tfjs', { write: denseToTfjs, read: denseFromTfjs });
// Loaded on first use: a search that stays in this thread never starts piscina or BullMQ.
setExecutorLoader('threads', async () => (await import('./selection/pool.js')).createThreadRunner);
setExecutorLoader('bullmq', async () => (await import('./selection/queue.js')).createQueueRunner);

export * from './index.js';
export { initWasm } from './backends/wasm/node.js';
export { compareBackends, type CompareOptions, type BackendComparison, type Comparison } from './compare.js';
export { startTrialWorker, QueueUnavailableError, type TrialWorkerOptions } from './selection/queue.js';
