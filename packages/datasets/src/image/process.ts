import { decodeImage } from './decode';
import { type TransformSpec, UniformTape, applyTransform } from './transforms';

/** Decodes and transforms one image: the work a decoding thread does per file. */
export function processImage(bytes: Uint8Array, source: string, channels: 1 | 3, transform: TransformSpec, uniforms?: Float64Array): Uint8Array {
  const image = decodeImage(bytes, source, channels);
  return applyTransform(image, transform, new UniformTape(uniforms ?? new Float64Array(0))).data;
}
