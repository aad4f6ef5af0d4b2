import { decodeImage } from './decode';
import { type TransformSpec, UniformTape, applyTransform } from './transforms';

/** Decodes and transforms one image: the work a decoding thread does per file. */
export async function processImage(bytes: Uint8Array, source: string, channels: 1 | 3, transform: TransformSpec, uniforms?: Float64Array): Promise<Uint8Array> {
  const image = await decodeImage(bytes, source, channels);
  return applyTransform(image, transform, new UniformTape(uniforms ?? new Float64Array(0))).data;
}

/** processImage over a list, one result or error message per item, in order. */
export function processAll(items: { bytes: Uint8Array; source: string; uniforms?: Float64Array }[], channels: 1 | 3, transform: TransformSpec): Promise<({ data: Uint8Array } | { error: string })[]> {
  return Promise.all(
    items.map(({ bytes, source, uniforms }) =>
      processImage(bytes, source, channels, transform, uniforms).then(
        (data) => ({ data }),
        (error: unknown) => ({ error: (error as Error).message }),
      ),
    ),
  );
}
