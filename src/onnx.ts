/**
 * `import 'mlpkit/onnx'`: adds `toONNX` and `MLP.fromONNX` to the universal entry (browsers,
 * workers, edge runtimes), which leaves out the protobuf encoder (protobufjs, about 13 KB
 * gzipped) to keep edge bundles small. The Node entry includes it already.
 */
import { setOnnxCodec } from './interop/onnx.js';
import { onnxProtoCodec } from './interop/onnx-proto.js';

setOnnxCodec(onnxProtoCodec);
