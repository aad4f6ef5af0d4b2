import { type InputSpec, type Preprocessing, inputPreprocessing } from '@pyramid/core';

/**
 * The source rectangle that becomes the model's width x height input under the checkpoint's
 * preprocessing: for 'center-crop', the shorter side scaled to `resize` and the centre taken (what
 * eval and predict do); for 'stretch', the whole image.
 */
export function inputRect(sourceWidth: number, sourceHeight: number, width: number, height: number, preprocessing: Preprocessing): { x: number; y: number; width: number; height: number } {
  if (preprocessing.kind === 'stretch') return { x: 0, y: 0, width: sourceWidth, height: sourceHeight };
  const shorter = Math.min(sourceWidth, sourceHeight);
  const cropWidth = (width * shorter) / preprocessing.resize;
  const cropHeight = (height * shorter) / preprocessing.resize;
  return { x: (sourceWidth - cropWidth) / 2, y: (sourceHeight - cropHeight) / 2, width: cropWidth, height: cropHeight };
}

/**
 * RGBA pixels as the model's NHWC input: grey through the ITU-R BT.601 luma weights in PIL's fixed
 * point for one-channel models (as convert('L') makes it), then `(v / scale - mean) / std`.
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
      const v = channels === 1 ? (rgba[4 * i] * 19595 + rgba[4 * i + 1] * 38470 + rgba[4 * i + 2] * 7471 + 0x8000) >>> 16 : rgba[4 * i + c];
      input[i * channels + c] = (v / scale - mean[c]) / std[c];
    }
  }
  return input;
}

/**
 * An image as the model's input: brought to the input size as the checkpoint's preprocessing says
 * (with the browser's own decoder and smoothing), converted to the model's channels and normalised as the checkpoint says. Also drawn on
 * `preview`, as the model sees it.
 */
export function imageToInput(image: ImageBitmap, spec: InputSpec, preview: HTMLCanvasElement): { pixels: Uint8ClampedArray; input: Float32Array } {
  const { height, width } = spec.shape;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  const crop = inputRect(image.width, image.height, width, height, inputPreprocessing(spec));
  context.imageSmoothingQuality = 'high';
  context.drawImage(image, crop.x, crop.y, crop.width, crop.height, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const view = preview.getContext('2d')!;
  view.imageSmoothingEnabled = false;
  view.clearRect(0, 0, preview.width, preview.height);
  view.drawImage(canvas, 0, 0, preview.width, preview.height);
  return { pixels: rgba, input: rgbaToInput(rgba, spec) };
}
