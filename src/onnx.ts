/**
 * `import 'mlpkit/onnx'`: adds `toONNX` and `MLP.fromONNX` to the universal entry (browsers,
 * workers, edge runtimes), which leaves them out to keep edge bundles small: the graph code and
 * its protobuf encoder (protobufjs) weigh about 20 KB gzipped. The Node entry includes them.
 */
import { ONNX_SUPPORT } from './interop/onnx-proto.js';
import { setFormat } from './interop/formats.js';

setFormat('onnx', ONNX_SUPPORT);
