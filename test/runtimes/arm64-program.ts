/**
 * Runs on an arm64 Node.js (under emulation, see arm64.test.ts) with the linux-arm64 prebuilt
 * addon: every training parity case on the native backend, and one call the addon refuses,
 * printed as one line of JSON for the test to hold against the reference.
 */
import { nativeBinding } from '../../src/backends/native.js';
import { listBackends } from '../../src/node.js';
import { PARITY_CASES, runParityCase } from '../helpers/parity-cases.js';

let refused = '';
try {
  nativeBinding().columnMoments(new Float32Array(7), 3, undefined, new Float64Array(3), new Float64Array(3));
} catch (error) {
  refused = `${(error as Error).name}: ${(error as Error).message}`;
}
console.log(
  JSON.stringify({
    arch: process.arch,
    node: process.version,
    native: listBackends().find((b) => b.name === 'native'),
    refused,
    outcomes: PARITY_CASES.map((parityCase) => runParityCase(parityCase, 'native').outcome),
  }),
);
