import { describe, expect, it } from 'vitest';
import { datasetOf, readSample, sampleRgba } from './sample';

const cifar10Classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

describe('datasetOf', () => {
  it("names the dataset whose shape and class names (in order) are the checkpoint's", () => {
    expect(datasetOf({ shape: { height: 32, width: 32, channels: 3 }, classNames: cifar10Classes })).toBe('cifar10');
    expect(datasetOf({ shape: { height: 28, width: 28, channels: 1 }, classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] })).toBe('mnist');
  });

  it("names none for an image folder's classes, another order, another shape, or a model of 100 unnamed classes", () => {
    expect(datasetOf({ shape: { height: 32, width: 32, channels: 3 }, classNames: ['cats', 'dogs'] })).toBeNull();
    expect(datasetOf({ shape: { height: 32, width: 32, channels: 3 }, classNames: [...cifar10Classes].reverse() })).toBeNull();
    expect(datasetOf({ shape: { height: 64, width: 64, channels: 3 }, classNames: cifar10Classes })).toBeNull();
    expect(datasetOf({ shape: { height: 32, width: 32, channels: 3 }, classNames: Array.from({ length: 100 }, (_, i) => String(i)) })).toBeNull();
  });
});

describe('sampleRgba', () => {
  it('copies RGB and sets alpha opaque; repeats a grey pixel in R, G and B', () => {
    // Two 1x2 RGB images after their two labels; the second one is taken.
    const rgb = readSample(Uint8Array.of(4, 7, 1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60), { height: 1, width: 2, channels: 3 });
    expect([...sampleRgba(rgb, 1, { height: 1, width: 2, channels: 3 })]).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
    const grey = readSample(Uint8Array.of(9, 200, 17), { height: 1, width: 2, channels: 1 });
    expect([...sampleRgba(grey, 0, { height: 1, width: 2, channels: 1 })]).toEqual([200, 200, 200, 255, 17, 17, 17, 255]);
  });
});
