import { declaredSize, decodeImage } from './decode';
import { type TransformSpec, UniformTape, applyTransform, imagenetTrainCropped, randomResizedCropBox } from './transforms';

/**
 * Decodes and transforms one image: the work a decoding thread does per file. A random-resized
 * crop is drawn from the size the header declares and only its window is decoded.
 */
export async function processImage(bytes: Uint8Array, source: string, channels: 1 | 3, transform: TransformSpec, uniforms?: Float64Array): Promise<Uint8Array> {
  const random = new UniformTape(uniforms ?? new Float64Array(0));
  const size = transform.kind === 'imagenet-train' ? declaredSize(bytes) : null;
  if (transform.kind === 'imagenet-train' && size && size.width > 0 && size.height > 0) {
    const box = randomResizedCropBox(size.width, size.height, random);
    const window = await decodeImage(bytes, source, channels, box);
    return imagenetTrainCropped(window, { top: 0, left: 0, height: box.height, width: box.width }, transform, random).data;
  }
  return applyTransform(await decodeImage(bytes, source, channels), transform, random).data;
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
