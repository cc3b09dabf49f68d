/**
 * Where `toONNX` and `MLP.fromONNX` find their implementation. The graph code (onnx.ts) and
 * its protobuf encoding (onnx-proto.ts, protobufjs) would add about 20 KB gzipped to the
 * universal entry, whose edge bundles are kept small; so the Node entry registers them, and
 * browsers and edge runtimes opt in with `import 'mlpkit/onnx'`.
 */
import type { OnnxExport, OnnxNetwork } from './onnx.js';

export interface OnnxSupport {
  /** The bytes of the ONNX model of a dense network. */
  write(spec: OnnxExport): Uint8Array;
  /** The dense network an ONNX model's bytes compute. */
  read(bytes: Uint8Array): OnnxNetwork;
}

/** The opsets `toONNX` declares: 13 introduced today's Softmax, and every op written is the same through 21. */
export const ONNX_OPSETS = { min: 13, max: 21, default: 13 } as const;

let support: OnnxSupport | undefined;

export function setOnnxSupport(value: OnnxSupport): void {
  support = value;
}

export function onnxSupport(): OnnxSupport {
  if (!support) {
    throw new Error(
      "ONNX support is not loaded: mlpkit's universal entry leaves it out to keep edge bundles small; import 'mlpkit/onnx' once (the Node entry includes it)",
    );
  }
  return support;
}
