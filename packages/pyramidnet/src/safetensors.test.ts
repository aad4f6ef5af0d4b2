import { describe, expect, it } from 'vitest';
import { readSafetensors, toFloat32, toIntegers, writeSafetensors } from './safetensors';

/** A file built by hand, byte by byte, from a header object and raw data. */
function handMade(header: unknown, data: number[] = [], headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (...values: number[]) => [...new Uint8Array(new Float32Array(values).buffer)];

describe('readSafetensors', () => {
  it('reads a hand-made file', () => {
    const file = handMade(
      { __metadata__: { format: 'pt' }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, a: { dtype: 'I64', shape: [], data_offsets: [8, 16] } },
      [...f32(1.5, -2), 7, 0, 0, 0, 0, 0, 0, 0],
    );
    const { tensors, metadata } = readSafetensors(file, 'w.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(Array.from(toFloat32(tensors.get('b')!))).toEqual([1.5, -2]);
    expect(toIntegers(tensors.get('a')!)).toEqual([7]);
  });

  it('converts F16 and BF16 by the IEEE bit layouts', () => {
    // F16 0x3c00 = 1, 0xc000 = -2, 0x3555 = 0.333251953125; BF16 0x3fc0 = 1.5 (top half of 0x3fc00000).
    const file = handMade(
      { h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [1], data_offsets: [6, 8] } },
      [0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0xc0, 0x3f],
    );
    const { tensors } = readSafetensors(file);
    expect(Array.from(toFloat32(tensors.get('h')!))).toEqual([1, -2, 0.333251953125]);
    expect(Array.from(toFloat32(tensors.get('b')!))).toEqual([1.5]);
  });

  it.each([
    ['fewer than 8 bytes', new Uint8Array(3), 'w: truncated: 3 bytes, fewer than the 8-byte header length'],
    ['a header longer than the file', handMade({}, [], 999), 'w: truncated: header says 999 bytes but only 2 follow'],
    ['a header that is not JSON', handMade('{"a": '), /w: header is not valid JSON/],
    ['a header that is an array', handMade('[1, 2]'), 'w: header is not a JSON object'],
    ['an unknown dtype', handMade({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }), `w: tensor 'a' has unsupported dtype "F128"`],
    ['a negative dimension', handMade({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), /tensor 'a' has an invalid shape \[-1\]/],
    ['offsets that do not fit the shape', handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32(1)), `w: tensor 'a' (F32 [2]) needs 8 bytes but data_offsets span 4`],
    ['data cut short', handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(1)), `w: truncated: tensor 'a' ends at byte 8 of a 4-byte data section`],
    [
      'overlapping tensors',
      handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)),
      /tensor 'b' starts at byte 4, expected 8: data sections overlap or leave gaps/,
    ],
    ['trailing bytes', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1, 2)), 'w: 4 trailing bytes after the last tensor'],
    ['non-string metadata', handMade({ __metadata__: { epoch: 3 } }), 'w: __metadata__ must map strings to strings'],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => readSafetensors(bytes as Uint8Array, 'w')).toThrow(message as string);
  });
});

describe('writeSafetensors', () => {
  it('writes what readSafetensors reads back, header padded to 8 bytes', () => {
    const bytes = writeSafetensors(
      { 'conv.weight': { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, n: { dtype: 'I64', shape: [], data: new BigInt64Array([5n]) } },
      { note: 'x' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ note: 'x' });
    expect(Array.from(toFloat32(tensors.get('conv.weight')!))).toEqual([1, 2, 3, 4]);
    expect(tensors.get('conv.weight')!.shape).toEqual([2, 2]);
    expect(toIntegers(tensors.get('n')!)).toEqual([5]);
  });

  it('refuses data that does not fit the shape', () => {
    expect(() => writeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(`tensor 'a' (F32 [3]) needs 12 bytes, got 8`);
  });
});
