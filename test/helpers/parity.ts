/** N-step training parity with the reference, shared by the native and WebAssembly tests. */
import { expect } from 'vitest';
import type { MLP } from '../../src/node.js';
import { expectClose } from './close.js';
import { runParityCase, type ParityCase, type ParityOutcome } from './parity-cases.js';

export * from './parity-cases.js';

/** Holds an outcome to the reference's within max(atol, rtol·|ref|): 20 updates, losses, parameters, predictions, evaluation. */
export function expectParityOutcome(other: ParityOutcome, ref: ParityOutcome, label: string): void {
  expect(other.step).toBe(20);
  expectClose(other.loss, ref.loss, { atol: 1e-5, rtol: 1e-4, label: `${label}: epoch losses` });
  expectClose(other.weights, ref.weights, { atol: 1e-4, rtol: 1e-3, label: `${label}: parameters after 20 updates` });
  expectClose(other.predictions, ref.predictions, { atol: 1e-4, rtol: 1e-3, label: `${label}: predictions` });
  expectClose(other.evaluation, ref.evaluation, { atol: 1e-5, rtol: 1e-4, label: `${label}: evaluate` });
}

/** Trains the case for 20 updates on `backend` and on the reference, and holds the first to the second. */
export function expectTrainingParity(parityCase: ParityCase, backend: 'native' | 'wasm', label: string = backend): MLP {
  const { outcome: ref } = runParityCase(parityCase, 'js');
  const { net, outcome } = runParityCase(parityCase, backend);
  expectParityOutcome(outcome, ref, label);
  return net;
}
