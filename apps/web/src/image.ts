import type { InputSpec } from '@pyramid/core';

/** The source rectangle that covers the target aspect ratio: the shorter side fills, the rest is cropped evenly. */
export function centreCropRect(sourceWidth: number, sourceHeight: number, width: number, height: number): { x: number; y: number; width: number; height: number } {
  const sourceIsWider = sourceWidth * height > sourceHeight * width;
  const cropWidth = sourceIsWider ? (sourceHeight * width) / height : sourceWidth;
  const cropHeight = sourceIsWider ? sourceHeight : (sourceWidth * height) / width;
  return { x: (sourceWidth - cropWidth) / 2, y: (sourceHeight - cropHeight) / 2, width: cropWidth, height: cropHeight };
}

/**
 * RGBA pixels as the model's NHWC input: grey through the ITU-R BT.601 luma weights for one-channel
 * models (what the MNIST-style datasets were made with), then `(v / scale - mean) / std`.
 */
export function rgbaToInput(rgba: Uint8ClampedArray, spec: InputSpec): Float32Array {
  const { height, width, channels } = spec.shape;
  if (rgba.length !== 4 * width * height) {
    throw new Error(`rgbaToInput: expected ${4 * width * height} RGBA bytes for ${width}x${height}, got ${rgba.length}`);
  }
  const { mean, std, scale } = spec.normalization;
  const input = new Float32Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < channels; c++) {
      const v = channels === 1 ? Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) : rgba[4 * i + c];
      input[i * channels + c] = (v / scale - mean[c]) / std[c];
    }
  }
  return input;
}

/**
 * An image as the model's input: the shorter side resized to the input size, centre-cropped,
 * converted to the model's channels and normalised as the checkpoint says. Also drawn on
 * `preview`, as the model sees it.
 */
export function imageToInput(image: ImageBitmap, spec: InputSpec, preview: HTMLCanvasElement): { pixels: Uint8ClampedArray; input: Float32Array } {
  const { height, width } = spec.shape;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  const crop = centreCropRect(image.width, image.height, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(image, crop.x, crop.y, crop.width, crop.height, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const view = preview.getContext('2d')!;
  view.imageSmoothingEnabled = false;
  view.clearRect(0, 0, preview.width, preview.height);
  view.drawImage(canvas, 0, 0, preview.width, preview.height);
  return { pixels: rgba, input: rgbaToInput(rgba, spec) };
}
