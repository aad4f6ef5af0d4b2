import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from './npy';

/** A .npy file as NumPy 1.x writes np.array([[1.5, -2]], dtype=np.float32), byte for byte. */
function numpyFloatFile(): Uint8Array {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
  const padded = header + ' '.repeat(128 - 10 - header.length - 1) + '\n';
  const out = new Uint8Array(128 + 8);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length & 255, padded.length >> 8]);
  out.set(new TextEncoder().encode(padded), 10);
  new DataView(out.buffer).setFloat32(128, 1.5, true);
  new DataView(out.buffer).setFloat32(132, -2, true);
  return out;
}

describe('.npy', () => {
  it('reads a float32 array as NumPy writes it', () => {
    const array = readNpy(numpyFloatFile());
    expect(array.dtype).toBe('float32');
    expect(array.shape).toEqual([1, 2]);
    expect(Array.from(array.data)).toEqual([1.5, -2]);
  });

  it('round-trips uint8 arrays with a 64-byte aligned header', () => {
    const bytes = writeNpy({ dtype: 'uint8', shape: [2, 2, 1], data: Uint8Array.from([0, 128, 255, 7]) });
    expect((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64).toBe(0);
    const array = readNpy(bytes);
    expect(array.shape).toEqual([2, 2, 1]);
    expect(Array.from(array.data)).toEqual([0, 128, 255, 7]);
  });

  it('names what is wrong with a bad file', () => {
    expect(() => readNpy(new Uint8Array(20), 'x.npy')).toThrow('x.npy: not a .npy file (bad magic string)');
    const truncated = numpyFloatFile().subarray(0, 130);
    expect(() => readNpy(truncated, 'x.npy')).toThrow('x.npy: expected 8 bytes of float32 data, found 2');
    const f64 = numpyFloatFile();
    f64.set(new TextEncoder().encode('<f8'), 21); // the descr value starts at byte 10 + 11
    expect(() => readNpy(f64, 'x.npy')).toThrow("x.npy: dtype '<f8' is not supported; use uint8 or float32");
  });

  it('reports a header shorter than its version needs, not a DataView error', () => {
    // 10 bytes of a version 2 file: magic, version 2.0 and two of the four header-length bytes.
    const v2 = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0x76, 0x00]);
    expect(() => readNpy(v2, 'x.npy')).toThrow('x.npy: truncated header (10 bytes, a version 2 header needs at least 12)');
    const v1 = numpyFloatFile().subarray(0, 60);
    expect(() => readNpy(v1, 'y.npy')).toThrow('y.npy: truncated header (it declares 118 bytes, 50 follow)');
  });
});
