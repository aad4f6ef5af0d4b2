import { describe, expect, it } from 'vitest';
import type { InputSpec } from '@pyramid/core';
import { inputRect, rgbaToInput } from './image';

const imagenet: InputSpec = {
  shape: { height: 1, width: 2, channels: 3 },
  normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 255 },
  classNames: [],
};

describe('inputRect', () => {
  it('crops the longer side evenly and keeps the whole shorter side when it is resized to the crop', () => {
    // 640x480 onto 32x32: the 480 side fills, 80 pixels are cut from each end of the 640 side.
    const crop32 = { kind: 'center-crop', resize: 32 } as const;
    expect(inputRect(640, 480, 32, 32, crop32)).toEqual({ x: 80, y: 0, width: 480, height: 480 });
    expect(inputRect(100, 300, 28, 28, { kind: 'center-crop', resize: 28 })).toEqual({ x: 0, y: 100, width: 100, height: 100 });
    expect(inputRect(64, 64, 32, 32, crop32)).toEqual({ x: 0, y: 0, width: 64, height: 64 });
  });

  it("takes ImageNet's centre 224 of the shorter side at 256", () => {
    // By hand: 500x375, shorter side 375 -> 256 scales by 256/375; 224 / (256/375) = 328.125 source
    // pixels, centred: x = (500 - 328.125) / 2 = 85.9375, y = (375 - 328.125) / 2 = 23.4375.
    expect(inputRect(500, 375, 224, 224, { kind: 'center-crop', resize: 256 })).toEqual({ x: 85.9375, y: 23.4375, width: 328.125, height: 328.125 });
  });

  it('takes the whole image when stretching', () => {
    expect(inputRect(500, 375, 32, 32, { kind: 'stretch' })).toEqual({ x: 0, y: 0, width: 500, height: 375 });
  });
});

describe('rgbaToInput', () => {
  it('normalises each colour channel with its own mean and std and drops alpha', () => {
    const rgba = new Uint8ClampedArray([200, 100, 50, 255, 0, 255, 0, 7]);
    const input = rgbaToInput(rgba, imagenet);
    // By hand: (200/255 - 0.485) / 0.229 = 1.30705, (100/255 - 0.456) / 0.224 = -0.28501, ...
    const expected = [1.30705, -0.28501, -0.93298, -2.11790, 2.42857, -1.80444];
    expect(input.length).toBe(6);
    expected.forEach((value, i) => expect(input[i]).toBeCloseTo(value, 4));
  });

  it('turns colour into BT.601 grey for one-channel models', () => {
    const spec: InputSpec = {
      shape: { height: 1, width: 1, channels: 1 },
      normalization: { mean: [0.1307 * 255], std: [0.3081 * 255], scale: 1 },
      classNames: [],
    };
    // 0.299*200 + 0.587*100 + 0.114*50 = 124.2, rounded to 124; (124 - 33.3285) / 78.5655 = 1.15408.
    const input = rgbaToInput(new Uint8ClampedArray([200, 100, 50, 255]), spec);
    expect(input[0]).toBeCloseTo(1.15408, 4);
  });

  it('refuses pixels of the wrong size', () => {
    expect(() => rgbaToInput(new Uint8ClampedArray(4), imagenet)).toThrow(/expected 8 RGBA bytes for 2x1, got 4/);
  });
});
