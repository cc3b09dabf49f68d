/**
 * The part of the ONNX protobuf schema (onnx.proto, proto2) that a dense network needs, and its
 * wire encoding by protobufjs's minimal runtime (Writer and Reader, no reflection and no code
 * generated at run time, so it runs where `eval` is forbidden).
 *
 * The field numbers are ONNX's own; test/onnx-interop.test.ts checks every one of them against
 * the onnx.proto that ships with the onnx Python package. Names are protobufjs's camelCase forms
 * of the proto field names. Fields not listed here are skipped when reading.
 *
 * With onnx.ts it makes `ONNX_SUPPORT`, which the Node entry and `mlpkit/onnx` register (see
 * formats.ts).
 */
import protobuf from 'protobufjs/minimal.js';
import { denseFromOnnx, denseToOnnx, type OnnxModel } from './onnx.js';
import type { OnnxSupport } from './formats.js';

/** A scalar of the wire format; `packed` marks the repeated fields onnx.proto declares `[packed = true]`. */
type Scalar = 'int64' | 'int32' | 'uint64' | 'float' | 'double' | 'string' | 'bytes';
export type MessageName =
  | 'ModelProto'
  | 'OperatorSetIdProto'
  | 'StringStringEntryProto'
  | 'GraphProto'
  | 'NodeProto'
  | 'AttributeProto'
  | 'TensorProto'
  | 'ValueInfoProto'
  | 'TypeProto'
  | 'TypeProto.Tensor'
  | 'TensorShapeProto'
  | 'TensorShapeProto.Dimension';

export interface FieldSpec {
  readonly name: string;
  readonly id: number;
  readonly type: Scalar | MessageName;
  readonly repeated?: true;
  readonly packed?: true;
}

const one = (name: string, id: number, type: Scalar | MessageName): FieldSpec => ({ name, id, type });
const many = (name: string, id: number, type: Scalar | MessageName, packed = false): FieldSpec =>
  packed ? { name, id, type, repeated: true, packed: true } : { name, id, type, repeated: true };

/** Every field mlpkit writes or reads, by message. */
export const ONNX_SCHEMA: Readonly<Record<MessageName, readonly FieldSpec[]>> = {
  ModelProto: [
    one('irVersion', 1, 'int64'),
    one('producerName', 2, 'string'),
    one('producerVersion', 3, 'string'),
    one('domain', 4, 'string'),
    one('modelVersion', 5, 'int64'),
    one('docString', 6, 'string'),
    one('graph', 7, 'GraphProto'),
    many('opsetImport', 8, 'OperatorSetIdProto'),
    many('metadataProps', 14, 'StringStringEntryProto'),
  ],
  OperatorSetIdProto: [one('domain', 1, 'string'), one('version', 2, 'int64')],
  StringStringEntryProto: [one('key', 1, 'string'), one('value', 2, 'string')],
  GraphProto: [
    many('node', 1, 'NodeProto'),
    one('name', 2, 'string'),
    many('initializer', 5, 'TensorProto'),
    one('docString', 10, 'string'),
    many('input', 11, 'ValueInfoProto'),
    many('output', 12, 'ValueInfoProto'),
    many('valueInfo', 13, 'ValueInfoProto'),
    // Only counted, to refuse them by name: mlpkit reads dense initializers.
    many('sparseInitializer', 15, 'bytes'),
  ],
  NodeProto: [
    many('input', 1, 'string'),
    many('output', 2, 'string'),
    one('name', 3, 'string'),
    one('opType', 4, 'string'),
    many('attribute', 5, 'AttributeProto'),
    one('docString', 6, 'string'),
    one('domain', 7, 'string'),
  ],
  AttributeProto: [
    one('name', 1, 'string'),
    one('f', 2, 'float'),
    one('i', 3, 'int64'),
    one('s', 4, 'bytes'),
    one('t', 5, 'TensorProto'),
    one('g', 6, 'bytes'), // a subgraph (If, Loop, Scan): no op mlpkit reads has one
    many('floats', 7, 'float'),
    many('ints', 8, 'int64'),
    many('strings', 9, 'bytes'),
    one('type', 20, 'int32'),
  ],
  TensorProto: [
    many('dims', 1, 'int64'),
    one('dataType', 2, 'int32'),
    many('floatData', 4, 'float', true),
    many('int32Data', 5, 'int32', true),
    many('stringData', 6, 'bytes'),
    many('int64Data', 7, 'int64', true),
    one('name', 8, 'string'),
    one('rawData', 9, 'bytes'),
    many('doubleData', 10, 'double', true),
    many('uint64Data', 11, 'uint64', true),
    one('docString', 12, 'string'),
    many('externalData', 13, 'StringStringEntryProto'),
    one('dataLocation', 14, 'int32'),
  ],
  ValueInfoProto: [one('name', 1, 'string'), one('type', 2, 'TypeProto'), one('docString', 3, 'string')],
  TypeProto: [one('tensorType', 1, 'TypeProto.Tensor'), one('denotation', 6, 'string')],
  'TypeProto.Tensor': [one('elemType', 1, 'int32'), one('shape', 2, 'TensorShapeProto')],
  TensorShapeProto: [many('dim', 1, 'TensorShapeProto.Dimension')],
  'TensorShapeProto.Dimension': [one('dimValue', 1, 'int64'), one('dimParam', 2, 'string'), one('denotation', 3, 'string')],
};

type Message = Record<string, unknown>;

// Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
const WIRE: Record<Scalar, number> = { int64: 0, int32: 0, uint64: 0, float: 5, double: 1, string: 2, bytes: 2 };
const isScalar = (type: string): type is Scalar => type in WIRE;

function writeScalar(writer: protobuf.Writer, type: Scalar, value: unknown): void {
  switch (type) {
    case 'int64':
      writer.int64(value as number);
      return;
    case 'uint64':
      writer.uint64(value as number);
      return;
    case 'int32':
      writer.int32(value as number);
      return;
    case 'float':
      writer.float(value as number);
      return;
    case 'double':
      writer.double(value as number);
      return;
    case 'string':
      writer.string(value as string);
      return;
    case 'bytes':
      writer.bytes(value as Uint8Array);
      return;
  }
}

function writeMessage(writer: protobuf.Writer, type: MessageName, message: Message): void {
  for (const field of ONNX_SCHEMA[type]) {
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    if (!field.repeated) {
      writeField(writer, field, value);
    } else if (field.packed) {
      const values = value as number[];
      if (values.length === 0) continue;
      writer.uint32(((field.id << 3) | 2) >>> 0).fork();
      for (const v of values) writeScalar(writer, field.type as Scalar, v);
      writer.ldelim();
    } else {
      for (const v of value as unknown[]) writeField(writer, field, v);
    }
  }
}

function writeField(writer: protobuf.Writer, field: FieldSpec, value: unknown): void {
  if (isScalar(field.type)) {
    writer.uint32(((field.id << 3) | WIRE[field.type]) >>> 0);
    writeScalar(writer, field.type, value);
  } else {
    writer.uint32(((field.id << 3) | 2) >>> 0).fork();
    writeMessage(writer, field.type, value as Message);
    writer.ldelim();
  }
}

/** A 64-bit integer as a number (the Reader gives long.js objects, whose decimal string is exact). */
function int64(value: number | protobuf.Long): number {
  return typeof value === 'number' ? value : Number(String(value));
}

function readScalar(reader: protobuf.Reader, type: Scalar): unknown {
  switch (type) {
    case 'int64':
      return int64(reader.int64());
    case 'uint64':
      return int64(reader.uint64());
    case 'int32':
      return reader.int32();
    case 'float':
      return reader.float();
    case 'double':
      return reader.double();
    case 'string':
      return reader.string();
    case 'bytes':
      return reader.bytes();
  }
}

function readMessage(reader: protobuf.Reader, type: MessageName, end: number): Message {
  const fields = ONNX_SCHEMA[type];
  const message: Message = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = fields.find((f) => f.id === id);
    if (!field) {
      reader.skipType(wire);
      continue;
    }
    let value: unknown;
    if (isScalar(field.type)) {
      const scalar = field.type;
      if (field.repeated && wire === 2 && WIRE[scalar] !== 2) {
        // A packed run (proto2 writers may also write these fields one by one; both are read).
        const stop = reader.uint32() + reader.pos;
        const list = (message[field.name] ??= []) as unknown[];
        while (reader.pos < stop) list.push(readScalar(reader, scalar));
        if (reader.pos !== stop) throw new RangeError(`a packed ${type}.${field.name} overruns its length`);
        continue;
      }
      if (wire !== WIRE[scalar])
        throw new RangeError(`${type}.${field.name} (field ${id}) has wire type ${wire}, expected ${WIRE[scalar]}`);
      value = readScalar(reader, scalar);
    } else {
      if (wire !== 2) throw new RangeError(`${type}.${field.name} (field ${id}) has wire type ${wire}, expected 2`);
      const length = reader.uint32();
      if (reader.pos + length > end) throw new RangeError(`${type}.${field.name} overruns its enclosing message`);
      value = readMessage(reader, field.type, reader.pos + length);
    }
    if (field.repeated) ((message[field.name] ??= []) as unknown[]).push(value);
    else message[field.name] = value;
  }
  if (reader.pos !== end) throw new RangeError(`${type} overruns its length`);
  return message;
}

/** Encodes an `onnx.ModelProto`. */
export function encodeOnnx(model: OnnxModel): Uint8Array {
  const writer = protobuf.Writer.create();
  writeMessage(writer, 'ModelProto', model as unknown as Message);
  // A plain Uint8Array (in Node the writer returns a Buffer, possibly a view of a shared pool).
  return new Uint8Array(writer.finish());
}

/** Decodes an `onnx.ModelProto`; bytes that are not one throw a RangeError naming `bytes`. */
export function decodeOnnx(bytes: Uint8Array): OnnxModel {
  try {
    return readMessage(protobuf.Reader.create(bytes), 'ModelProto', bytes.length) as OnnxModel;
  } catch (error) {
    throw new RangeError(`bytes must be an ONNX model (a serialized onnx.ModelProto): ${(error as Error).message}`, { cause: error });
  }
}

/** ONNX writing and reading, to register with `setOnnxSupport`. */
export const ONNX_SUPPORT: OnnxSupport = {
  write: (spec) => encodeOnnx(denseToOnnx(spec)),
  read: (bytes) => denseFromOnnx(decodeOnnx(bytes)),
};
