/**
 * `import 'mlpkit/tfjs'`: adds `toTfjs` and `MLP.fromTfjs` to the universal entry (browsers,
 * workers, edge runtimes), which leaves the converter out to keep edge bundles small. The Node
 * entry includes it.
 */
import { setFormat } from './interop/formats.js';
import { denseFromTfjs, denseToTfjs } from './interop/tfjs.js';

setFormat('tfjs', { write: denseToTfjs, read: denseFromTfjs });
