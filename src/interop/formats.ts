/**
 * Where the interchange formats find their code: `toONNX` / `MLP.fromONNX` and `toTfjs` /
 * `MLP.fromTfjs`. The ONNX graph code with its protobuf encoder (protobufjs) would add about
 * 20 KB gzipped to the universal entry, and the TensorFlow.js converter about 1.5 KB, which
 * edge bundles of a model that only predicts or trains do not need; so the Node entry registers
 * both, and browsers and edge runtimes opt in with `import 'mlpkit/onnx'` or
 * `import 'mlpkit/tfjs'`.
 */
import type { OnnxExport, OnnxNetwork } from './onnx.js';
import type { denseFromTfjs, denseToTfjs } from './tfjs.js';

export interface OnnxSupport {
  /** The bytes of the ONNX model of a dense network. */
  write(spec: OnnxExport): Uint8Array;
  /** The dense network an ONNX model's bytes compute. */
  read(bytes: Uint8Array): OnnxNetwork;
}

export interface TfjsSupport {
  write: typeof denseToTfjs;
  read: typeof denseFromTfjs;
}

/** The opsets `toONNX` declares: 13 introduced today's Softmax, and every op written is the same through 21. */
export const ONNX_OPSETS = { min: 13, max: 21, default: 13 } as const;

interface Formats {
  onnx: OnnxSupport;
  tfjs: TfjsSupport;
}

const NAMES: Record<keyof Formats, string> = { onnx: 'ONNX', tfjs: 'TensorFlow.js' };
const registered: Partial<Formats> = {};

/** Installs a format's code (the Node entry and the opt-in entries do). */
export function setFormat<K extends keyof Formats>(format: K, support: Formats[K]): void {
  registered[format] = support;
}

/** A format's code, or an error that says how to load it. */
export function formatSupport<K extends keyof Formats>(format: K): Formats[K] {
  const support = registered[format];
  if (!support) {
    throw new Error(
      `${NAMES[format]} support is not loaded: mlpkit's universal entry leaves it out to keep edge bundles small; import 'mlpkit/${format}' once (the Node entry includes it)`,
    );
  }
  return support;
}
