import { processWide } from '../process-wide';

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

/**
 * A free array up to this much longer than asked serves the request as a view of its start.
 * PyramidNet's widths grow by about one channel per unit, so each layer's activations have a
 * length of their own: exact lengths only would leave most freed arrays waiting for a shape
 * that comes back only in the next step, about a third more memory than the step needs.
 */
const MAX_SLACK = 1.25;

export class ArrayPool {
  /** Free arrays by length, most recently freed last. */
  private readonly free = new Map<number, Float32Array[]>();
  /** Arrays handed out (`array`, a view of `whole` when a longer one served), by buffer, with how many data entries hold them. */
  private readonly owned = new WeakMap<ArrayBufferLike, { array: Float32Array; whole: Float32Array; holders: number }>();
  /** The lengths in `free`, ascending, for the best fit. */
  private lengths: number[] = [];
  private freeBytes = 0;
  private readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** An array of `length` floats with arbitrary contents: the kernel must write every element. */
  take(length: number): Float32Array {
    if (length < MIN_POOLED_LENGTH) return new Float32Array(length);
    const whole = this.bestFit(length) ?? new Float32Array(length);
    const array = whole.length === length ? whole : whole.subarray(0, length);
    this.owned.set(whole.buffer, { array, whole, holders: 0 });
    return array;
  }

  /** The shortest free array of at least `length` and at most MAX_SLACK times it, taken out. */
  private bestFit(length: number): Float32Array | null {
    const fit = this.lengths[this.firstAtLeast(length)];
    if (fit === undefined || fit > length * MAX_SLACK) return null;
    const list = this.free.get(fit)!;
    const whole = list.pop()!;
    if (list.length === 0) this.forget(fit);
    this.freeBytes -= whole.byteLength;
    return whole;
  }

  /** Where `length` is, or would go, in the ascending `lengths`. */
  private firstAtLeast(length: number): number {
    let lo = 0;
    let hi = this.lengths.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lengths[mid] < length) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private forget(length: number): void {
    this.free.delete(length);
    this.lengths.splice(this.firstAtLeast(length), 1);
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
    const { whole } = entry;
    if (whole.byteLength > this.limitBytes) return;
    while (this.freeBytes + whole.byteLength > this.limitBytes) this.dropOldest();
    let list = this.free.get(whole.length);
    if (!list) {
      list = [];
      this.free.set(whole.length, list);
      this.lengths.splice(this.firstAtLeast(whole.length), 0, whole.length);
    }
    list.push(whole);
    this.freeBytes += whole.byteLength;
  }

  private dropOldest(): void {
    for (const [length, list] of this.free) {
      const dropped = list.shift();
      if (dropped) this.freeBytes -= dropped.byteLength;
      if (list.length === 0) this.forget(length);
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

// Per tfjs backend object, of which a process has one whichever build of this package runs its kernels.
const { attached, pools } = processWide('array-pools.v1', () => ({ attached: new WeakSet<object>(), pools: new WeakMap<object, ArrayPool>() }));

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
