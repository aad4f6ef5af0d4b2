import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@pyramid/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint';
import { ARCHITECTURE_LIMITS } from './config-schema';
import { PyramidNet } from './model';
import { tiny } from './test-fixtures';

// A config.json is validated against the checkpoint schema before any model is built: each
// case below is a file a user could hand to `pyramid predict` or `eval`.
let config: Record<string, any>;
let weights: Uint8Array;

beforeAll(async () => {
  await useBackend('cpu');
  const model = new PyramidNet(tiny);
  ({ config, weights } = await encodeCheckpoint(model, { classNames: 'abcdefghij'.split('') }));
  model.dispose();
});

/** The checkpoint's config with `change` applied to a copy. */
function edited(change: (c: Record<string, any>) => void): string {
  const copy = structuredClone(config);
  change(copy);
  return JSON.stringify(copy);
}

function decodeError(text: string): string {
  const before = tf.memory().numTensors;
  try {
    decodeCheckpoint(text, weights, 'ck');
  } catch (error) {
    expect(tf.memory().numTensors).toBe(before);
    return (error as Error).message;
  }
  throw new Error('the checkpoint was accepted');
}

describe('checkpoint config.json validation', () => {
  it('accepts the config the model wrote', () => {
    const { model } = decodeCheckpoint(JSON.stringify(config), weights, 'ck');
    expect(model.architecture.depth).toBe(8);
    model.dispose();
  });

  it('bounds depth, alpha and classes, naming the key', () => {
    expect(decodeError(edited((c) => (c.architecture.depth = 60002)))).toMatch(/^ck\/config\.json: 'architecture\.depth': .*2000/);
    expect(decodeError(edited((c) => (c.architecture.alpha = 1e5)))).toMatch(/^ck\/config\.json: 'architecture\.alpha': .*10000/);
    expect(decodeError(edited((c) => (c.architecture.classes = 0)))).toMatch(/^ck\/config\.json: 'architecture\.classes'/);
    expect(decodeError(edited((c) => (c.architecture.depth = '8')))).toMatch(/^ck\/config\.json: 'architecture\.depth'/);
  });

  it('refuses a model larger than its weights file before building it', () => {
    // Depth 1994 is within the bounds ((1994 - 2) / 6 = 332 units per stage) and would allocate
    // tens of millions of weights; the file holds the depth-8 model's.
    const message = decodeError(edited((c) => (c.architecture.depth = 1994)));
    expect(message).toMatch(/^ck\/config\.json describes a model of \d+ convolution and fc weights but ck\/model\.safetensors holds \d+ values$/);
    const [needed, held] = message.match(/\d+/g)!.slice(-2).map(Number);
    expect(needed).toBeGreaterThan(held);
  });

  it('needs as many class names as classes', () => {
    expect(decodeError(edited((c) => c.input.classNames.pop()))).toBe("ck/config.json: 'input.classNames': 9 class names for a model with 10 classes");
  });

  it('needs normalization mean and std, one per channel, std positive', () => {
    expect(decodeError(edited((c) => delete c.input.normalization.std))).toMatch(/^ck\/config\.json: 'input\.normalization\.std': /);
    expect(decodeError(edited((c) => (c.input.normalization.std = [0, 1, 1])))).toMatch(/^ck\/config\.json: 'input\.normalization\.std\.0': /);
    expect(decodeError(edited((c) => (c.input.normalization.mean = [0.5])))).toBe("ck/config.json: 'input.normalization.mean': 1 values for 3-channel images");
  });

  it('keeps every limit above the paper\'s largest models', () => {
    // Han et al. 2017, Tables 2 and 4: depth 272 (CIFAR), alpha 480 (ImageNet), 1000 classes, 224x224 input.
    expect(ARCHITECTURE_LIMITS.depth).toBeGreaterThanOrEqual(272);
    expect(ARCHITECTURE_LIMITS.alpha).toBeGreaterThanOrEqual(480);
    expect(ARCHITECTURE_LIMITS.classes).toBeGreaterThanOrEqual(1000);
    expect(ARCHITECTURE_LIMITS.imageSide).toBeGreaterThanOrEqual(224);
  });
});
