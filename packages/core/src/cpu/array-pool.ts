/**
 * Output arrays for the project's CPU kernels, reused from tensors that were disposed. A fresh
 * large Float32Array costs the kernel's own time again in page faults and zeroing (tens of
 * milliseconds for the 25 MB activations of a batch-128 step), and discarded ones wait for the
 * garbage collector, which is most of a step's peak memory.
 *
 * Only arrays handed out here are ever reused, and only once no tensor can see them: the pool
 * counts the tfjs data entries holding each array (through the backend's write and move), takes
 * it back when the last of them is disposed, and gives up on an array for good once its values
 * escape: read out to the user (readSync/read) or shared as a view by another tensor (a stock
 * kernel may return a subarray of its input).
 */

/** The slice of tfjs-backend-cpu's MathBackendCPU that the pool hooks into. */
interface PooledBackend {
  data: { get(dataId: object): { values?: unknown } | undefined; has(dataId: object): boolean };
  write(values: unknown, shape: number[], dtype: string): object;
  move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
  disposeData(dataId: object, force?: boolean): boolean;
  readSync(dataId: object): unknown;
  read(dataId: object): Promise<unknown>;
}

/** Smaller arrays are cheap to allocate and not worth tracking. */
const MIN_POOLED_LENGTH = 1 << 14;

export class ArrayPool {
  /** Free arrays by length, most recently freed last. */
  private readonly free = new Map<number, Float32Array[]>();
  /** Arrays handed out, by their buffer, with how many data entries hold them. */
  private readonly owned = new WeakMap<ArrayBufferLike, { array: Float32Array; holders: number }>();
  private freeBytes = 0;
  private readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** An array of `length` floats with arbitrary contents: the kernel must write every element. */
  take(length: number): Float32Array {
    if (length < MIN_POOLED_LENGTH) return new Float32Array(length);
    const reused = this.free.get(length)?.pop();
    if (reused) this.freeBytes -= reused.byteLength;
    const array = reused ?? new Float32Array(length);
    this.owned.set(array.buffer, { array, holders: 0 });
    return array;
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.freeBytes;
  }

  private held(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const entry = this.owned.get(values.buffer);
    if (!entry) return;
    if (entry.array === values) entry.holders++;
    else this.owned.delete(values.buffer);
  }

  private escaped(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owned.delete(values.buffer);
  }

  private released(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const entry = this.owned.get(values.buffer);
    if (!entry || entry.array !== values || --entry.holders > 0) return;
    this.owned.delete(values.buffer);
    if (values.byteLength > this.limitBytes) return;
    while (this.freeBytes + values.byteLength > this.limitBytes) this.dropOldest();
    const list = this.free.get(values.length) ?? [];
    list.push(values);
    this.free.set(values.length, list);
    this.freeBytes += values.byteLength;
  }

  private dropOldest(): void {
    for (const [length, list] of this.free) {
      const dropped = list.shift();
      if (dropped) this.freeBytes -= dropped.byteLength;
      if (list.length === 0) this.free.delete(length);
      if (dropped) return;
    }
  }

  /** Follows the backend's data entries; idempotent per backend. */
  attach(backend: PooledBackend): void {
    if (attached.has(backend)) return;
    attached.add(backend);
    const { write, move, disposeData, readSync, read } = backend;
    backend.write = (values, shape, dtype) => {
      this.held(values);
      return write.call(backend, values, shape, dtype);
    };
    backend.move = (dataId, values, shape, dtype, refCount) => {
      this.held(values);
      move.call(backend, dataId, values, shape, dtype, refCount);
    };
    backend.disposeData = (dataId, force) => {
      const values = backend.data.get(dataId)?.values;
      const result = disposeData.call(backend, dataId, force);
      if (values !== undefined && !backend.data.has(dataId)) this.released(values);
      return result;
    };
    backend.readSync = (dataId) => {
      const values = readSync.call(backend, dataId);
      this.escaped(values);
      return values;
    };
    backend.read = async (dataId) => {
      const values = await read.call(backend, dataId);
      this.escaped(values);
      return values;
    };
  }
}

const attached = new WeakSet<object>();
const pools = new WeakMap<object, ArrayPool>();

/**
 * At most this much memory waits in a backend's pool for reuse: a quarter of the machine's memory
 * in Node (a batch-128 PyramidNet-110 step cycles through about 3 GB of activations, and every
 * array the pool cannot keep comes back as a fresh allocation with its page faults), 512 MiB in
 * browsers.
 */
function poolLimitBytes(): number {
  const os = (globalThis as { process?: { getBuiltinModule?: (name: string) => { totalmem(): number } | undefined } }).process?.getBuiltinModule?.('node:os');
  return os ? Math.floor(os.totalmem() / 4) : 512 * 2 ** 20;
}

/** A kernel output array of `length` floats for `backend`, reused where possible. */
export function outputArray(backend: object, length: number): Float32Array {
  let pool = pools.get(backend);
  if (!pool) {
    pool = new ArrayPool(poolLimitBytes());
    pool.attach(backend as PooledBackend);
    pools.set(backend, pool);
  }
  return pool.take(length);
}
