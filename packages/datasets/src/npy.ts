import { DataError } from '@pyramid/core';

export interface NpyArray {
  dtype: 'uint8' | 'float32';
  shape: number[];
  data: Uint8Array | Float32Array;
}

/**
 * Reads NumPy's .npy format (versions 1-3): the magic string, a little-endian header length, a
 * Python-literal header {'descr', 'fortran_order', 'shape'}, then C-order data. uint8 ('|u1') and
 * little-endian float32 ('<f4') arrays are accepted: what image batches are stored as.
 */
export function readNpy(bytes: Uint8Array, source = 'array.npy'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new DataError(`${source}: not a .npy file (bad magic string)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new DataError(`${source}: .npy version ${major} is not supported`);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw new DataError(`${source}: truncated header (${bytes.length} bytes, a version ${major} header needs at least ${start})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLength > bytes.length) throw new DataError(`${source}: truncated header (it declares ${headerLength} bytes, ${bytes.length - start} follow)`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DataError(`${source}: malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new DataError(`${source}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`${source}: invalid shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + headerLength);
  if (descr === '|u1' || descr === 'u1') {
    if (body.length !== count) throw new DataError(`${source}: expected ${count} bytes of uint8 data, found ${body.length}`);
    return { dtype: 'uint8', shape, data: body.slice() };
  }
  if (descr === '<f4') {
    if (body.length !== count * 4) throw new DataError(`${source}: expected ${count * 4} bytes of float32 data, found ${body.length}`);
    const copy = body.slice();
    return { dtype: 'float32', shape, data: new Float32Array(copy.buffer, 0, count) };
  }
  throw new DataError(`${source}: dtype '${descr}' is not supported; use uint8 or float32`);
}

/** Writes a C-order .npy (version 1) of uint8 or float32 data. */
export function writeNpy(array: NpyArray): Uint8Array {
  const descr = array.dtype === 'uint8' ? '|u1' : '<f4';
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}
