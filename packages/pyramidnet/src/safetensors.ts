import { WeightsError } from '@pyramid/core';

/**
 * A small reader and writer for the safetensors format
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header mapping names to {dtype, shape, data_offsets}, then the raw little-endian data. Offsets
 * are relative to the data section; tensors must tile it exactly.
 */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** The raw little-endian bytes of this tensor (a copy, safely aligned). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Header sizes above this are refused before any JSON is parsed (the reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function fail(source: string, problem: string): never {
  throw new WeightsError(`${source}: ${problem}`);
}

/** Parses a safetensors file; every structural problem is reported with `source` and the key. */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  if (bytes.byteLength < 8) fail(source, `truncated: ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(source, `header length ${headerLength} is implausibly large (corrupt file?)`);
  const headerBytes = Number(headerLength);
  if (8 + headerBytes > bytes.byteLength) {
    fail(source, `truncated: header says ${headerBytes} bytes but only ${bytes.byteLength - 8} follow`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (error) {
    fail(source, `header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(source, 'header is not a JSON object');

  const dataStart = 8 + headerBytes;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Object.values(raw).some((v) => typeof v !== 'string')) {
        fail(source, '__metadata__ must map strings to strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info?.dtype !== 'string' || !(info.dtype in DTYPE_BYTES)) fail(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(info?.dtype)}`);
    const dtype = info.dtype as SafetensorsDType;
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(source, `tensor '${name}' has an invalid shape ${JSON.stringify(info.shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      fail(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const shape = info.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      fail(source, `tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${expected} bytes but data_offsets span ${end - begin}`);
    }
    if (end > dataLength) fail(source, `truncated: tensor '${name}' ends at byte ${end} of a ${dataLength}-byte data section`);
    spans.push([begin, end, name]);
    tensors.set(name, { dtype, shape: [...shape], bytes: bytes.slice(dataStart + begin, dataStart + end) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== cursor) fail(source, `tensor '${name}' starts at byte ${begin}, expected ${cursor}: data sections overlap or leave gaps`);
    cursor = end;
  }
  if (cursor !== dataLength) fail(source, `${dataLength - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: number[];
  data: ArrayBufferView;
}

/** Serialises tensors (in name order) with the header padded by spaces to an 8-byte boundary. */
export function writeSafetensors(tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new WeightsError(`tensor '${name}' (${t.dtype} [${t.shape.join(', ')}]) needs ${expected} bytes, got ${t.data.byteLength}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.byteLength % 8)) % 8;
  if (padding) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), cursor);
    cursor += t.data.byteLength;
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Any floating dtype as float32 values (the model computes in float32). */
export function toFloat32(entry: SafetensorsEntry): Float32Array {
  const { dtype, bytes } = entry;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n).slice();
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        word.setUint32(0, view.getUint16(2 * i, true) << 16);
        out[i] = word.getFloat32(0);
      }
      return out;
    }
    default:
      throw new WeightsError(`cannot read ${dtype} data as floating point`);
  }
}

/** An integer entry (I64 included, within the safe range) as plain numbers. */
export function toIntegers(entry: SafetensorsEntry): number[] {
  const { dtype, bytes } = entry;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'I64':
        out.push(Number(view.getBigInt64(8 * i, true)));
        break;
      case 'I32':
        out.push(view.getInt32(4 * i, true));
        break;
      case 'I16':
        out.push(view.getInt16(2 * i, true));
        break;
      case 'I8':
        out.push(view.getInt8(i));
        break;
      case 'U8':
      case 'BOOL':
        out.push(view.getUint8(i));
        break;
      default:
        throw new WeightsError(`cannot read ${dtype} data as integers`);
    }
  }
  return out;
}

/** Little-endian float32 bytes of `values` (typed arrays are little-endian on every platform we run on). */
export function float32Entry(values: Float32Array, shape: number[]): TensorToWrite {
  return { dtype: 'F32', shape, data: values };
}

export function int64Entry(values: number[], shape: number[]): TensorToWrite {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { dtype: 'I64', shape, data };
}
