/**
 * `mlpkit/inline`: the universal entry with both WebAssembly builds embedded in the code (as
 * base64), so `initWasm()` fetches nothing. For bundlers that do not copy the `.wasm` files the
 * default entry points to with `new URL(…, import.meta.url)` (esbuild with its defaults),
 * single-file builds, and pages whose server does not serve the files. It is not the default
 * entry because it carries both builds in the JavaScript: the default entry fetches one.
 */
import { scalar, simd } from '../dist/wasm/modules-base64.js';
import { setEmbeddedWasm } from './backends/wasm/loader.js';

/** The bytes of a base64 string (atob: browsers, workers, Node, Deno, Bun and workerd all have it). */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

setEmbeddedWasm((useSimd) => decodeBase64(useSimd ? simd : scalar));

export * from './index.js';
