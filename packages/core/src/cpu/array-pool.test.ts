import { describe, expect, it } from 'vitest';
import { ArrayPool } from './array-pool';

/** A minimal stand-in for tfjs-backend-cpu's data bookkeeping (write, move, refcounted dispose). */
function fakeBackend() {
  const entries = new Map<object, { values: unknown; refCount: number }>();
  return {
    data: { get: (id: object) => entries.get(id), has: (id: object) => entries.has(id) },
    write(values: unknown) {
      const id = {};
      entries.set(id, { values, refCount: 1 });
      return id;
    },
    move(id: object, values: unknown, _shape: number[], _dtype: string, refCount: number) {
      entries.set(id, { values, refCount });
    },
    disposeData(id: object) {
      const e = entries.get(id);
      if (e && --e.refCount <= 0) entries.delete(id);
      return true;
    },
    readSync: (id: object) => entries.get(id)?.values,
    read: async (id: object) => entries.get(id)?.values,
  };
}

const LENGTH = 1 << 16;

describe('ArrayPool: reusing kernel outputs of disposed tensors', () => {
  it('hands a disposed output back for the next request of the same length', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const first = pool.take(LENGTH);
    backend.disposeData(backend.write(first));
    expect(pool.take(LENGTH)).toBe(first);
    expect(pool.take(LENGTH)).not.toBe(first);
  });

  it('serves a shorter request from a free array at most a quarter longer, as a view, and takes the whole back', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const long = pool.take(LENGTH);
    backend.disposeData(backend.write(long));
    // Too short a request for it: more than a quarter would go unused.
    expect(pool.take(LENGTH / 2).buffer).not.toBe(long.buffer);
    const view = pool.take(LENGTH - 1000);
    expect(view.buffer).toBe(long.buffer);
    expect(view.length).toBe(LENGTH - 1000);
    backend.disposeData(backend.write(view));
    // Back whole: the full length serves again, exactly.
    expect(pool.take(LENGTH)).toBe(long);
  });

  it('picks the shortest free array that fits', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const [a, b, c] = [LENGTH + 3000, LENGTH + 1000, LENGTH + 2000].map((n) => pool.take(n));
    for (const array of [a, b, c]) backend.disposeData(backend.write(array));
    expect(pool.take(LENGTH).buffer).toBe(b.buffer);
    expect(pool.take(LENGTH).buffer).toBe(c.buffer);
    expect(pool.take(LENGTH).buffer).toBe(a.buffer);
  });

  it('keeps an array while any data entry still holds it', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const array = pool.take(LENGTH);
    const a = backend.write(array);
    const b = {};
    backend.move(b, array, [LENGTH], 'float32', 1);
    backend.disposeData(a);
    expect(pool.take(LENGTH)).not.toBe(array);
    backend.disposeData(b);
    expect(pool.take(LENGTH)).toBe(array);
  });

  it('never reuses an array whose values were read out, or that another tensor views', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const read = pool.take(LENGTH);
    const id = backend.write(read);
    backend.readSync(id);
    backend.disposeData(id);
    const viewed = pool.take(LENGTH);
    const owner = backend.write(viewed);
    const view = backend.write(viewed.subarray(0, 100));
    backend.disposeData(owner);
    const next = pool.take(LENGTH);
    expect(next).not.toBe(read);
    expect(next).not.toBe(viewed);
    backend.disposeData(view);
  });

  it('ignores arrays it did not hand out, such as the ones users give to tf.tensor', () => {
    const pool = new ArrayPool(1 << 30);
    const backend = fakeBackend();
    pool.attach(backend);
    const users = new Float32Array(LENGTH);
    backend.disposeData(backend.write(users));
    expect(pool.take(LENGTH)).not.toBe(users);
  });

  it('holds at most its limit, dropping the oldest arrays first', () => {
    const pool = new ArrayPool(2 * LENGTH * 4);
    const backend = fakeBackend();
    pool.attach(backend);
    const arrays = [pool.take(LENGTH), pool.take(LENGTH), pool.take(LENGTH)];
    for (const a of arrays) backend.disposeData(backend.write(a));
    expect(pool.heldBytes).toBe(2 * LENGTH * 4);
    expect([pool.take(LENGTH), pool.take(LENGTH)]).toEqual(expect.arrayContaining([arrays[1], arrays[2]]));
  });
});
