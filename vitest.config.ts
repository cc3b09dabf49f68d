import { defineConfig } from 'vitest/config';

/** The suites that run on every backend; the second project reruns them on the scalar WebAssembly build. */
const SHARED_SUITES = [
  'test/golden.test.ts',
  'test/bad-input.test.ts',
  'test/estimators.test.ts',
  'test/model-file.test.ts',
  'test/optimizers.test.ts',
  'test/real-data.test.ts',
  'test/training.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'wasm-scalar', include: SHARED_SUITES, env: { MLPKIT_WASM_BUILD: 'scalar' } } },
    ],
  },
});
