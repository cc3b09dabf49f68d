/**
 * The backends every shared suite runs on: each one this build of mlpkit includes. A
 * backend that is included but fails to load is still listed, so its tests fail with the
 * reason instead of being skipped.
 */
import { listBackends, type BackendName } from '../../src/node.js';

export const BACKENDS: BackendName[] = listBackends()
  .filter((b) => b.available || !/does not include/.test(b.reason ?? ''))
  .map((b) => b.name);
