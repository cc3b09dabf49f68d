/**
 * The Node.js entry of mlpkit: everything of the universal entry, plus the native backend and
 * ONNX's protobuf encoding. Bundles for browsers, workers and edge runtimes get `index.ts`,
 * which imports nothing from Node (and adds ONNX with `import 'mlpkit/onnx'`).
 */
import { loadNativeBackend } from './backends/native.js';
import { loadWasmBackendNode } from './backends/wasm/node.js';
import { setOnnxCodec } from './interop/onnx.js';
import { onnxProtoCodec } from './interop/onnx-proto.js';
import { setBackendLoader } from './registry.js';

setBackendLoader('native', loadNativeBackend);
setBackendLoader('wasm', loadWasmBackendNode);
setOnnxCodec(onnxProtoCodec);

export * from './index.js';
export { initWasm } from './backends/wasm/node.js';
export { compareBackends, type CompareOptions, type BackendComparison, type Comparison } from './compare.js';
