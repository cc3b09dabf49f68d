/**
 * Runs on an arm64 Node.js (under emulation, see arm64.test.ts) with the linux-arm64 prebuilt
 * addon: every training parity case on the native backend, and one call the addon refuses,
 * printed as one line of JSON for the test to hold against the reference.
 */
import { nativeBinding } from '../../src/backends/native.js';
import { listBackends } from '../../src/node.js';
import { buildWideModel, flatWeights, PARITY_CASES, runParityCase, WIDE_X, WIDE_Y } from '../helpers/parity-cases.js';

// The wide network on 1 and on 3 threads (every call on the whole team): barriers, shared
// parts and the threads themselves, under emulation.
function threadWeights(threads: number): number[] {
  const net = buildWideModel('adam', threads);
  net.fitSync(WIDE_X, WIDE_Y, { epochs: 2, batchSize: 40 });
  return flatWeights(net);
}

let refused = '';
try {
  nativeBinding().columnMoments(new Float32Array(7), 3, undefined, new Float64Array(3), new Float64Array(3));
} catch (error) {
  refused = `${(error as Error).name}: ${(error as Error).message}`;
}
process.env.MLPKIT_FORCE_THREADS = '1';
const [oneThread, threeThreads] = [threadWeights(1), threadWeights(3)];
delete process.env.MLPKIT_FORCE_THREADS;
console.log(
  JSON.stringify({
    threadsAgree: oneThread.length > 0 && oneThread.every((w, i) => Object.is(w, threeThreads[i])),
    arch: process.arch,
    node: process.version,
    native: listBackends().find((b) => b.name === 'native'),
    refused,
    outcomes: PARITY_CASES.map((parityCase) => runParityCase(parityCase, 'native').outcome),
  }),
);
