import { WeightsError } from '@pyramid/core';

/**
 * A restricted reader of Python pickles, for the state_dicts `torch.save` writes. It interprets
 * only the opcodes that dicts, lists, tuples, numbers, strings and tensors need, and knows only
 * the globals of a state_dict: the tensor rebuild functions, OrderedDict and the storage types.
 * Nothing is ever called: the allowed globals are recognised by name and rebuilt as plain values,
 * and any other global or opcode stops the reading with an error naming it.
 */

/** A storage a tensor views: element type, the zip record holding its bytes, its element count. */
export interface StorageRef {
  readonly kind: 'storage';
  readonly dtype: TorchDType;
  readonly key: string;
  readonly numel: number;
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

export type TorchDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** `torch.<Name>Storage` by element type: the names `torch.save` writes and `torch.load` reads. */
export const STORAGE_TYPES: Record<string, TorchDType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** A Python tuple (arrays stand for lists). */
export class Tuple {
  constructor(readonly items: PickleValue[]) {}
}

/** A global the reader recognises; it is a name, never a callable. */
class Global {
  constructor(readonly name: string) {}
}

export type PickleValue = null | boolean | number | bigint | string | PickleValue[] | Tuple | Map<PickleValue, PickleValue> | TensorRef | StorageRef | Global;

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_TYPES).map((name) => `torch.${name}`),
]);

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const OPCODE_NAMES: Record<string, string> = {
  c: 'GLOBAL', '\x93': 'STACK_GLOBAL', i: 'INST', o: 'OBJ', '\x81': 'NEWOBJ', '\x92': 'NEWOBJ_EX', P: 'PERSID', R: 'REDUCE', b: 'BUILD',
  '\x82': 'EXT1', '\x83': 'EXT2', '\x84': 'EXT4', S: 'STRING', T: 'BINSTRING', U: 'SHORT_BINSTRING', I: 'INT', L: 'LONG', F: 'FLOAT', V: 'UNICODE',
};

function describe(value: StackItem | undefined): string {
  if (value === MARK) return 'a mark';
  if (value === undefined) return 'nothing';
  if (value instanceof Global) return value.name;
  if (value instanceof Tuple) return 'a tuple';
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return `a ${value.kind}`;
  return JSON.stringify(typeof value === 'bigint' ? String(value) : value);
}

/**
 * Reads a pickle (protocols 2 to 5, as `torch.save` writes them) into plain values: dicts become
 * Maps, lists arrays, tuples `Tuple`s, tensors `TensorRef`s. `source` names the file in errors.
 */
export function readPickle(bytes: Uint8Array, source: string): PickleValue {
  const { value, end } = readPickleAt(bytes, 0, source);
  if (end !== bytes.byteLength) throw new WeightsError(`${source}: ${bytes.byteLength - end} bytes after the pickle's end`);
  return value;
}

/**
 * One pickle starting at byte `start` (the legacy `torch.save` format writes several in a row),
 * and the byte after its STOP.
 */
export function readPickleAt(bytes: Uint8Array, start: number, source: string): { value: PickleValue; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  const storages = new Map<string, StorageRef>();
  let pos = start;

  const fail = (problem: string): never => {
    throw new WeightsError(`${source}: ${problem}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) fail(`truncated pickle at byte ${pos}`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const take = (n: number) => (need(n), bytes.subarray((pos += n) - n, pos));
  const text = (n: number) => {
    try {
      return decoder.decode(take(n));
    } catch {
      return fail(`a string at byte ${pos - n} is not valid UTF-8`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated pickle at byte ${pos}`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    const value = stack.pop();
    if (value === undefined || value === MARK) fail(`malformed pickle: ${value === MARK ? 'a mark' : 'an empty stack'} where a value was expected (byte ${pos})`);
    return value as PickleValue;
  };
  const top = (): PickleValue => {
    const value = stack[stack.length - 1];
    if (value === undefined || value === MARK) fail(`malformed pickle: nothing to modify at byte ${pos}`);
    return value as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail(`malformed pickle: no mark at byte ${pos}`);
    const items = stack.splice(at) as PickleValue[];
    items.shift();
    return items;
  };
  const refuseGlobal = (name: string): never =>
    fail(`refusing to load: the pickle uses ${name}, which a state_dict never needs (only tensors, storages and OrderedDict are read; nothing in the file is run)`);
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) refuseGlobal(full);
    stack.push(new Global(full));
  };
  const setItems = (dict: PickleValue, items: PickleValue[]) => {
    if (!(dict instanceof Map)) fail(`malformed pickle: setting items on ${describe(dict)} at byte ${pos}`);
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<PickleValue, PickleValue>).set(items[i], items[i + 1]);
  };
  const append = (list: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(list)) fail(`malformed pickle: appending to ${describe(list)} at byte ${pos}`);
    (list as PickleValue[]).push(...items);
  };
  const integerTuple = (value: PickleValue, what: string): number[] => {
    if (!(value instanceof Tuple) || !value.items.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
      fail(`a tensor's ${what} is ${describe(value)}, not a tuple of non-negative integers`);
    }
    return (value as Tuple).items as number[];
  };
  const reduce = (callable: PickleValue, args: PickleValue): PickleValue => {
    if (!(callable instanceof Global)) return fail(`malformed pickle: REDUCE of ${describe(callable)} at byte ${pos}`);
    if (!(args instanceof Tuple)) return fail(`malformed pickle: ${callable.name} called with ${describe(args)} at byte ${pos}`);
    const a = args.items;
    switch (callable.name) {
      case 'collections.OrderedDict':
        if (a.length !== 0) fail('OrderedDict is rebuilt from arguments; only an empty one followed by its items is read');
        return new Map();
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2': {
        // _rebuild_tensor (PyTorch 0.3) has 4 arguments, _rebuild_tensor_v2 6 or 7 (the last ones: requires_grad, hooks, metadata).
        const [storage, offset, size, stride] = a;
        const [least, most] = callable.name.endsWith('_v2') ? [6, 7] : [4, 4];
        if (a.length < least || a.length > most || !storage || typeof storage !== 'object' || (storage as StorageRef).kind !== 'storage') {
          fail(`${callable.name} called with ${a.length} arguments or without a storage`);
        }
        if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) fail(`a tensor's storage offset is ${describe(offset)}`);
        const shape = integerTuple(size, 'size');
        const strides = integerTuple(stride, 'stride');
        if (shape.length !== strides.length) fail(`a tensor has size [${shape.join(', ')}] but stride [${strides.join(', ')}]`);
        return { kind: 'tensor', storage: storage as StorageRef, offset: offset as number, shape, stride: strides };
      }
      case 'torch._utils._rebuild_parameter': {
        const data = a[0];
        if (!data || typeof data !== 'object' || (data as TensorRef).kind !== 'tensor') fail('_rebuild_parameter called without a tensor');
        return data;
      }
      default:
        // A storage type is a class: calling it would construct one, which a state_dict never does.
        return refuseGlobal(`${callable.name}(...)`);
    }
  };
  const persistent = (pid: PickleValue): StorageRef => {
    const items = pid instanceof Tuple ? pid.items : [];
    // The zip format's ids have 5 items; the legacy format's a sixth, a storage view (never written since PyTorch 1.0).
    const [tag, type, key, , numel, view] = items;
    if (items.length === 6 && view !== null) return fail('a storage view (PyTorch before 1.0) is not supported');
    if (items.length < 5 || items.length > 6 || tag !== 'storage' || !(type instanceof Global) || typeof key !== 'string' || typeof numel !== 'number') {
      return fail(`a persistent id is ${describe(pid)} with ${items.length} items, not ('storage', type, key, location, size[, view])`);
    }
    const dtype = STORAGE_TYPES[type.name.slice('torch.'.length)];
    if (!dtype) return fail(`a persistent id names ${type.name}, not a storage type`);
    const known = storages.get(key);
    if (known) return known;
    const storage: StorageRef = { kind: 'storage', dtype, key, numel };
    storages.set(key, storage);
    return storage;
  };

  for (;;) {
    const at = pos;
    const op = String.fromCharCode(u8());
    switch (op) {
      case '\x80': // PROTO
        if (u8() > 5) fail(`pickle protocol ${bytes[pos - 1]} is newer than 5`);
        break;
      case '\x95': // FRAME: a length hint only
        take(8);
        break;
      case '.': // STOP
        if (stack.length !== 1) fail(`malformed pickle: ${stack.length} values left at the end`);
        return { value: pop(), end: pos };
      case '(':
        stack.push(MARK);
        break;
      case '}':
        stack.push(new Map());
        break;
      case ']':
        stack.push([]);
        break;
      case ')':
        stack.push(new Tuple([]));
        break;
      case 't':
        stack.push(new Tuple(popMark()));
        break;
      case '\x85':
        stack.push(new Tuple([pop()]));
        break;
      case '\x86': {
        const b = pop();
        stack.push(new Tuple([pop(), b]));
        break;
      }
      case '\x87': {
        const c = pop();
        const b = pop();
        stack.push(new Tuple([pop(), b, c]));
        break;
      }
      case 'l': // LIST
        stack.push(popMark());
        break;
      case 'd': { // DICT
        const dict = new Map<PickleValue, PickleValue>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 'q':
        memo.set(u8(), top());
        break;
      case 'r':
        memo.set(u32(), top());
        break;
      case '\x94': // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 'h':
      case 'j': {
        const index = op === 'h' ? u8() : u32();
        if (!memo.has(index)) fail(`malformed pickle: memo ${index} read before it was written (byte ${at})`);
        stack.push(memo.get(index)!);
        break;
      }
      case 'X':
        stack.push(text(u32()));
        break;
      case '\x8c': // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 'J':
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 'K':
        stack.push(u8());
        break;
      case 'M':
        stack.push(u16());
        break;
      case '\x8a': { // LONG1: little-endian two's complement
        const digits = take(u8());
        let value = 0n;
        for (let i = digits.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(digits[i]);
        if (digits.length && digits[digits.length - 1] & 0x80) value -= 1n << BigInt(8 * digits.length);
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 'G':
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 'N':
        stack.push(null);
        break;
      case '\x88':
        stack.push(true);
        break;
      case '\x89':
        stack.push(false);
        break;
      case 's': {
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 'u': {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 'a': {
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 'e': {
        const items = popMark();
        append(top(), items);
        break;
      }
      case 'c':
        global(line(), line());
        break;
      case '\x93': { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`malformed pickle: STACK_GLOBAL of non-strings at byte ${at}`);
        global(module as string, name as string);
        break;
      }
      case 'R': {
        const args = pop();
        stack.push(reduce(pop(), args));
        break;
      }
      case 'b': { // BUILD: an OrderedDict's attributes (state_dict._metadata), not needed
        pop();
        if (!(top() instanceof Map)) fail(`refusing to load: the pickle sets the state of ${describe(top())} (byte ${at})`);
        break;
      }
      case 'Q':
        stack.push(persistent(pop()));
        break;
      default: {
        const name = OPCODE_NAMES[op];
        fail(name ? `refusing to load: pickle opcode ${name} (byte ${at}) is not part of a state_dict` : `malformed pickle: unknown opcode 0x${op.charCodeAt(0).toString(16).padStart(2, '0')} at byte ${at}`);
      }
    }
  }
}
