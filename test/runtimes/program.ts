/**
 * What every runtime runs, bundled by esbuild with mlpkit's universal entry (which must not
 * need anything from Node): before `initWasm` the wasm backend is reported as not initialized
 * and refused by name, and 'auto' picks js; after it, XOR and a small softmax network train
 * on wasm and match the JavaScript reference; with `mlpkit/onnx` imported, the XOR network goes
 * through toONNX and MLP.fromONNX unchanged. The driver (runtimes.test.ts) asserts on the report.
 */
import { initWasm, listBackends, MLP, type BackendStatus, type MLPOptions, type WasmSource } from '../../src/index.js';
import '../../src/onnx.js';

export interface Comparison {
  /** The backend that trained the network under test. */
  backend: string;
  /** Entries compared (losses, parameters, predictions). */
  compared: number;
  /** The first entry outside max(1e-4, 1e-3·|reference|), if any. */
  mismatch?: string;
  /** Largest |wasm − reference|. */
  maxDiff: number;
}

export interface RuntimeReport {
  runtime: string;
  simd: boolean;
  wasmBefore: BackendStatus;
  refusalBefore: string;
  autoBefore: string;
  isa: string;
  wasmAfter: BackendStatus;
  xor: Comparison & { predictions: number[]; classes: number[] };
  softmax: Comparison & { accuracy: number };
  /** The XOR network written by toONNX and read by MLP.fromONNX on wasm. */
  onnx: { bytes: number; sameWeights: boolean; samePredictions: boolean };
}

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

function compare(backend: string, got: number[], want: number[]): Comparison {
  let maxDiff = 0;
  let mismatch: string | undefined;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i]! - want[i]!);
    maxDiff = Math.max(maxDiff, diff);
    if (!(diff <= Math.max(1e-4, 1e-3 * Math.abs(want[i]!))) && mismatch === undefined) {
      mismatch = `entry ${i}: reference ${want[i]}, wasm ${got[i]}`;
    }
  }
  if (got.length !== want.length) mismatch ??= `lengths differ: reference ${want.length}, wasm ${got.length}`;
  return { backend, compared: want.length, maxDiff, ...(mismatch ? { mismatch } : {}) };
}

const flat = (net: MLP) => net.getWeights().flatMap((l) => [...l.weights, ...(l.bias ?? [])]);

/** Trains the same network on wasm and on js and compares losses, parameters and predictions. */
async function trainBoth(options: MLPOptions, x: number[][], y: number[], epochs: number, batchSize: number) {
  const nets = (['wasm', 'js'] as const).map((backend) => new MLP({ ...options, backend }));
  const histories = [];
  for (const net of nets) histories.push(await net.fit(x, y, { epochs, batchSize, validationSplit: 0 }));
  const [wasm, js] = nets as [MLP, MLP];
  const got = [...histories[0]!.loss, ...flat(wasm), ...(wasm.predict(x) as number[][]).flat()];
  const want = [...histories[1]!.loss, ...flat(js), ...(js.predict(x) as number[][]).flat()];
  return { wasm, comparison: compare(wasm.backend, got, want) };
}

/** The report of one runtime; `source` is what to hand `initWasm` (default: the file next to the bundle). */
export async function run(runtime: string, source?: WasmSource): Promise<RuntimeReport> {
  const tiny = { inputs: 2, layers: [{ units: 1 }] };
  const wasmBefore = listBackends().find((b) => b.name === 'wasm')!;
  let refusalBefore = '';
  try {
    new MLP({ ...tiny, backend: 'wasm' });
  } catch (error) {
    refusalBefore = (error as Error).message;
  }
  const autoBefore = new MLP(tiny).backend;

  const { isa } = await initWasm(source);
  const wasmAfter = listBackends().find((b) => b.name === 'wasm')!;

  const xorX = [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ];
  const xorY = [0, 1, 1, 0];
  const xor = await trainBoth(
    {
      inputs: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      optimizer: { type: 'adam', learningRate: 0.05 },
      seed: 3,
    },
    xorX,
    xorY,
    300,
    4,
  );
  const predictions = (xor.wasm.predict(xorX) as number[][]).map(([p]) => p!);

  const points = Array.from({ length: 30 }, (_, i) => [Math.cos(i * 0.7) * (1 + i / 30), Math.sin(i * 1.1) * (1 + i / 30)]);
  const labels = points.map(([a, b]) => (a! + b! > 0.4 ? 0 : a! > b! ? 1 : 2));
  const softmax = await trainBoth(
    {
      inputs: 2,
      layers: [
        { units: 16, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      optimizer: { type: 'sgd', learningRate: 0.1 },
      seed: 5,
    },
    points,
    labels,
    40,
    6,
  );
  const accuracy = softmax.wasm.evaluate(points, labels).accuracy ?? 0;

  const onnxBytes = xor.wasm.toONNX();
  const fromOnnx = MLP.fromONNX(onnxBytes, { backend: 'wasm' });
  const onnx = {
    bytes: onnxBytes.length,
    sameWeights: JSON.stringify(flat(fromOnnx)) === JSON.stringify(flat(xor.wasm)),
    samePredictions: JSON.stringify(fromOnnx.predict(xorX)) === JSON.stringify(xor.wasm.predict(xorX)),
  };

  return {
    runtime,
    simd: WebAssembly.validate(SIMD_PROBE),
    wasmBefore,
    refusalBefore,
    autoBefore,
    isa,
    wasmAfter,
    xor: { ...xor.comparison, predictions, classes: Array.from(xor.wasm.predictClasses(xorX) as number[]) },
    softmax: { ...softmax.comparison, accuracy },
    onnx,
  };
}
