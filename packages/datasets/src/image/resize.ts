import type { RasterImage } from './decode';

/**
 * Bilinear resize with half-pixel centres (PyTorch's align_corners=False, without antialiasing):
 * output pixel (y, x) samples the source at ((y + 0.5) * H / h - 0.5, (x + 0.5) * W / w - 0.5).
 */
export function resizeBilinear(image: RasterImage, height: number, width: number): RasterImage {
  const { data, width: W, height: H, channels: C } = image;
  if (H === height && W === width) return image;
  const out = new Uint8Array(height * width * C);
  const sy = H / height;
  const sx = W / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), H - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, H - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), W - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, W - 1);
      const wx = fx - x0;
      for (let c = 0; c < C; c++) {
        const top = data[(y0 * W + x0) * C + c] * (1 - wx) + data[(y0 * W + x1) * C + c] * wx;
        const bottom = data[(y1 * W + x0) * C + c] * (1 - wx) + data[(y1 * W + x1) * C + c] * wx;
        out[(y * width + x) * C + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { data: out, width, height, channels: C };
}

/** The window [top, top + height) x [left, left + width), which must lie inside the image. */
export function crop(image: RasterImage, top: number, left: number, height: number, width: number): RasterImage {
  const { data, width: W, channels: C } = image;
  const out = new Uint8Array(height * width * C);
  for (let y = 0; y < height; y++) out.set(data.subarray(((top + y) * W + left) * C, ((top + y) * W + left + width) * C), y * width * C);
  return { data: out, width, height, channels: C };
}

/** torchvision's Resize(size) with an int: the shorter side becomes `size`, the ratio kept. */
export function resizeShorterSide(image: RasterImage, size: number): RasterImage {
  const { width, height } = image;
  if (width <= height) return resizeBilinear(image, Math.round((height * size) / width), size);
  return resizeBilinear(image, size, Math.round((width * size) / height));
}

/** torchvision's CenterCrop(size). */
export function centerCrop(image: RasterImage, height: number, width: number): RasterImage {
  return crop(image, Math.round((image.height - height) / 2), Math.round((image.width - width) / 2), height, width);
}
