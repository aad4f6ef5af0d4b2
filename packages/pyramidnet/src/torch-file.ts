import { WeightsError } from '@pyramid/core';
import { unzipSync, zipSync } from 'fflate';
import { type PickleValue, STORAGE_TYPES, type TensorRef, type TorchDType, Tuple, readPickle, readPickleAt } from './pickle';
import type { SafetensorsEntry, SafetensorsFile, TensorToWrite } from './safetensors';

/**
 * Files written by `torch.save`. Since PyTorch 1.6: a zip holding `<name>/data.pkl`, the pickled
 * object, and `<name>/data/<key>`, the raw bytes of each storage its tensors view. Before (and with
 * `_use_new_zipfile_serialization=False`), the legacy format: five pickles in a row (magic number,
 * protocol version, system information, the object, the storage keys), then each storage as an
 * int64 element count and its bytes.
 */

const ELEMENT_BYTES: Record<TorchDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const STORAGE_NAMES = Object.fromEntries(Object.entries(STORAGE_TYPES).map(([name, dtype]) => [dtype, name])) as Record<TorchDType, string>;

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** The largest tensor read (2 GiB, the largest typed array everywhere); a PyramidNet's largest is a few MB. */
const MAX_TENSOR_BYTES = 2 ** 31 - 1;
/** The first bytes of a pre-1.6 `torch.save`: pickle protocol 2 and the legacy magic number. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

const startsWith = (bytes: Uint8Array, prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

/** Whether `bytes` look like a file `torch.save` wrote, in the zip or the legacy format. */
export function isTorchFile(bytes: Uint8Array): boolean {
  return startsWith(bytes, ZIP_MAGIC) || startsWith(bytes, LEGACY_MAGIC);
}

/** What was found besides the tensors, to tell the user what was read. */
export interface TorchFileInfo {
  /** Where the state_dict was: '' (the file is one), 'state_dict' or 'model'. */
  entry: string;
  /** Whether every key carried DataParallel's 'module.' prefix (removed). */
  dataParallel: boolean;
  /** Numbers and strings beside the state_dict (the reference's epoch, arch, best_err1). */
  extras: Record<string, string | number>;
}

function keyList(keys: PickleValue[]): string {
  const shown = keys.slice(0, 6).map((k) => `'${String(k)}'`).join(', ');
  return keys.length > 6 ? `${shown} and ${keys.length - 6} more` : shown;
}

const isTensor = (value: PickleValue): value is TensorRef => value !== null && typeof value === 'object' && (value as TensorRef).kind === 'tensor';

/** The state_dict inside what was unpickled: the object itself, or its 'state_dict' or 'model' entry. */
function findStateDict(root: PickleValue, source: string): { dict: Map<PickleValue, PickleValue>; info: TorchFileInfo } {
  if (!(root instanceof Map)) throw new WeightsError(`${source}: holds ${Array.isArray(root) ? 'a list' : root instanceof Tuple ? 'a tuple' : typeof root}, not a state_dict`);
  const extras: Record<string, string | number> = {};
  let entry = '';
  let dict = root;
  if (![...root.values()].some(isTensor)) {
    const wrapped = ['state_dict', 'model'].find((k) => root.get(k) instanceof Map);
    if (!wrapped) {
      throw new WeightsError(`${source}: no state_dict found: the file holds a dict with keys ${keyList([...root.keys()])} (expected tensors, or a 'state_dict' or 'model' entry)`);
    }
    entry = wrapped;
    dict = root.get(wrapped) as Map<PickleValue, PickleValue>;
    for (const [k, v] of root) if (typeof k === 'string' && (typeof v === 'string' || typeof v === 'number')) extras[k] = v;
  }
  for (const [k, v] of dict) {
    if (typeof k !== 'string') throw new WeightsError(`${source}: state_dict key ${String(k)} is not a string`);
    if (!isTensor(v)) throw new WeightsError(`${source}: state_dict entry '${k}' is not a tensor`);
  }
  const keys = [...dict.keys()] as string[];
  const dataParallel = keys.length > 0 && keys.every((k) => k.startsWith('module.'));
  if (dataParallel) dict = new Map(keys.map((k) => [k.slice('module.'.length), dict.get(k)!]));
  return { dict, info: { entry, dataParallel, extras } };
}

/** The tensor's elements in row-major order, gathered from its storage by offset and strides. */
function gather(tensor: TensorRef, storage: Uint8Array, name: string, source: string): Uint8Array {
  const size = ELEMENT_BYTES[tensor.storage.dtype];
  const { shape, stride, offset } = tensor;
  const count = shape.reduce((a, b) => a * b, 1);
  if (count === 0) return new Uint8Array(0);
  // Zero strides repeat elements, so a small storage can describe a huge tensor: refuse what cannot be real weights.
  if (count * size > MAX_TENSOR_BYTES) throw new WeightsError(`${source}: tensor '${name}' of size [${shape.join(', ')}] is larger than ${MAX_TENSOR_BYTES} bytes`);
  const last = offset + shape.reduce((sum, d, i) => sum + (d - 1) * stride[i], 0);
  if (last >= tensor.storage.numel || (last + 1) * size > storage.byteLength) {
    throw new WeightsError(`${source}: tensor '${name}' reads element ${last} of a storage of ${Math.min(tensor.storage.numel, storage.byteLength / size)}`);
  }
  const out = new Uint8Array(count * size);
  const contiguous = shape.every((_, i) => stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1) || shape[i] === 1);
  if (contiguous) {
    out.set(storage.subarray(offset * size, (offset + count) * size));
    return out;
  }
  const index = new Array<number>(shape.length).fill(0);
  for (let n = 0; n < count; n++) {
    let element = offset;
    for (let i = 0; i < shape.length; i++) element += index[i] * stride[i];
    out.set(storage.subarray(element * size, element * size + size), n * size);
    for (let i = shape.length - 1; i >= 0 && ++index[i] === shape[i]; i--) index[i] = 0;
  }
  return out;
}

/**
 * Reads a file written by `torch.save`, in the zip or the legacy format: a state_dict, a dict
 * wrapping one as 'state_dict' (the reference code's checkpoints) or 'model', with DataParallel's
 * 'module.' prefixes removed. Pickles are read by a restricted reader that runs nothing (see
 * `readPickle`).
 */
export function readTorchFile(bytes: Uint8Array, source = 'model.pt'): SafetensorsFile & { info: TorchFileInfo } {
  const { root, storages } = startsWith(bytes, LEGACY_MAGIC) ? readLegacy(bytes, source) : readZip(bytes, source);
  const { dict, info } = findStateDict(root, source);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, value] of dict as Map<string, TensorRef>) {
    const storage = storages.get(value.storage.key);
    if (!storage) throw new WeightsError(`${source}: tensor '${name}' needs storage '${value.storage.key}', which the file lacks`);
    tensors.set(name, { dtype: value.storage.dtype, shape: [...value.shape], bytes: gather(value, storage, name, source) });
  }
  return { tensors, metadata: {}, info };
}

/** The unpickled object and the storages' bytes by key, from the zip format. */
function readZip(bytes: Uint8Array, source: string): { root: PickleValue; storages: Map<string, Uint8Array> } {
  if (!startsWith(bytes, ZIP_MAGIC)) throw new WeightsError(`${source}: not a file torch.save writes (no zip signature)`);
  let files: Record<string, Uint8Array>;
  let compressed: string | null = null;
  try {
    files = unzipSync(bytes, {
      filter: (file) => {
        const wanted = /^[^/]+\/(data\.pkl|byteorder|data\/[^/]+)$/.test(file.name);
        // torch.save stores records uncompressed: a compressed one is not its work and could expand without bound.
        if (wanted && file.compression !== 0) compressed ??= file.name;
        return wanted && file.compression === 0;
      },
    });
  } catch (error) {
    throw new WeightsError(`${source}: not a readable zip (${(error as Error).message})`);
  }
  if (compressed) throw new WeightsError(`${source}: record ${compressed} is compressed, which torch.save never does`);
  const pickleName = Object.keys(files).find((name) => name.endsWith('/data.pkl'));
  if (!pickleName) throw new WeightsError(`${source}: a zip without data.pkl, so not written by torch.save`);
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteorder = files[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') throw new WeightsError(`${source}: big-endian tensors are not supported`);
  const storages = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) if (name.startsWith(`${prefix}data/`)) storages.set(name.slice(`${prefix}data/`.length), data);
  return { root: readPickle(files[pickleName], `${source}/data.pkl`), storages };
}

/** The unpickled object and the storages' bytes by key, from the legacy format. */
function readLegacy(bytes: Uint8Array, source: string): { root: PickleValue; storages: Map<string, Uint8Array> } {
  const magic = readPickleAt(bytes, 0, source);
  const protocol = readPickleAt(bytes, magic.end, source);
  if (protocol.value !== 1001) throw new WeightsError(`${source}: legacy torch.save protocol ${String(protocol.value)} is not supported (1001 is)`);
  const system = readPickleAt(bytes, protocol.end, source);
  if (!(system.value instanceof Map) || system.value.get('little_endian') !== true) throw new WeightsError(`${source}: big-endian tensors are not supported`);
  const object = readPickleAt(bytes, system.end, source);
  const keys = readPickleAt(bytes, object.end, source);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new WeightsError(`${source}: the legacy storage key list is malformed`);
  // The element size of each storage comes from the tensors that view it.
  const sizes = new Map<string, number>();
  const visit = (value: PickleValue): void => {
    if (value instanceof Map) for (const v of value.values()) visit(v);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value instanceof Tuple) value.items.forEach(visit);
    else if (value !== null && typeof value === 'object' && (value as TensorRef).kind === 'tensor') {
      sizes.set((value as TensorRef).storage.key, ELEMENT_BYTES[(value as TensorRef).storage.dtype]);
    }
  };
  visit(object.value);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const size = sizes.get(key);
    if (size === undefined) throw new WeightsError(`${source}: storage '${key}' is listed but no tensor uses it`);
    if (pos + 8 > bytes.byteLength) throw new WeightsError(`${source}: truncated before storage '${key}'`);
    const count = Number(view.getBigInt64(pos, true));
    pos += 8;
    if (count < 0 || pos + count * size > bytes.byteLength) throw new WeightsError(`${source}: truncated in storage '${key}' (${count} elements)`);
    storages.set(key, bytes.subarray(pos, pos + count * size));
    pos += count * size;
  }
  return { root: object.value, storages };
}

// Pickle opcodes of protocol 2, for the writer.
const OP = { PROTO: 0x80, GLOBAL: 0x63, EMPTY_TUPLE: 0x29, REDUCE: 0x52, MARK: 0x28, SETITEMS: 0x75, BINUNICODE: 0x58, TUPLE: 0x74, BINPERSID: 0x51, BININT: 0x4a, NEWFALSE: 0x89, STOP: 0x2e };

/** Bytes of a pickle, built opcode by opcode. */
class PickleWriter {
  private chunks: number[] = [];
  private readonly encoder = new TextEncoder();
  op(code: number): this {
    this.chunks.push(code);
    return this;
  }
  raw(bytes: Uint8Array): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }
  global(module: string, name: string): this {
    return this.op(OP.GLOBAL).raw(this.encoder.encode(`${module}\n${name}\n`));
  }
  string(s: string): this {
    const bytes = this.encoder.encode(s);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length, true);
    return this.op(OP.BINUNICODE).raw(length).raw(bytes);
  }
  int(n: number): this {
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new WeightsError(`cannot write ${n} as a 4-byte pickle integer`);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setInt32(0, n, true);
    return this.op(OP.BININT).raw(bytes);
  }
  tuple(items: number[]): this {
    this.op(OP.MARK);
    for (const n of items) this.int(n);
    return this.op(OP.TUPLE);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** Alignment of each storage's bytes in the zip, as `torch.save` aligns them (for memory mapping). */
const ALIGNMENT = 64;

/**
 * A file that `torch.load(path, weights_only=True)` reads as an OrderedDict of tensors, in the
 * order given: the pickle names only `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`
 * and storage types, each tensor with its own storage.
 */
export function writeTorchFile(tensors: Map<string, TensorToWrite>, archiveName = 'archive'): Uint8Array {
  const pickle = new PickleWriter().op(OP.PROTO).op(2).global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE).op(OP.REDUCE).op(OP.MARK);
  const storages: [string, Uint8Array][] = [];
  for (const [name, tensor] of tensors) {
    const dtype = tensor.dtype as TorchDType;
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (tensor.data.byteLength !== count * ELEMENT_BYTES[dtype]) {
      throw new WeightsError(`tensor '${name}' (${dtype} [${tensor.shape.join(', ')}]) needs ${count * ELEMENT_BYTES[dtype]} bytes, got ${tensor.data.byteLength}`);
    }
    const key = String(storages.length);
    storages.push([key, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)]);
    const strides = tensor.shape.map((_, i) => tensor.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    pickle.string(name).global('torch._utils', '_rebuild_tensor_v2').op(OP.MARK);
    pickle.op(OP.MARK).string('storage').global('torch', STORAGE_NAMES[dtype]).string(key).string('cpu').int(count).op(OP.TUPLE).op(OP.BINPERSID);
    pickle.int(0).tuple(tensor.shape).tuple(strides).op(OP.NEWFALSE).global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE).op(OP.REDUCE);
    pickle.op(OP.TUPLE).op(OP.REDUCE);
  }
  pickle.op(OP.SETITEMS).op(OP.STOP);

  const records: [string, Uint8Array][] = [
    ['data.pkl', pickle.bytes()],
    ['byteorder', new TextEncoder().encode('little')],
    ...storages.map(([key, data]) => [`data/${key}`, data] as [string, Uint8Array]),
    ['version', new TextEncoder().encode('3\n')],
  ];
  // Stored entries one after another: each local header is 30 bytes, the name and an extra field
  // whose padding puts the data on a 64-byte boundary.
  const entries: Record<string, [Uint8Array, { level: 0; extra: Record<number, Uint8Array> }]> = {};
  let offset = 0;
  for (const [record, data] of records) {
    const name = `${archiveName}/${record}`;
    const header = 30 + new TextEncoder().encode(name).length + 4;
    const padding = (ALIGNMENT - ((offset + header) % ALIGNMENT)) % ALIGNMENT;
    entries[name] = [data, { level: 0, extra: { 0x5046: new Uint8Array(padding) } }];
    offset += header + padding + data.byteLength;
  }
  return zipSync(entries);
}
