import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { countLeakedTensors, engineReport } from './engine';
import { cpuBackendPlugin } from './backends/cpu';

const distEntry = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));

describe('engine set-up', () => {
  it('registers the gradients and chained ops that training needs', async () => {
    await cpuBackendPlugin.setup();
    const report = engineReport();
    expect(report.missingGradients).toEqual([]);
    expect(report.chainedOpsRegistered).toBe(true);
    // d/dx sum(x^3) = 3x^2, by hand.
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.pow(x, 3)))(tf.tensor1d([1, 2, -3]));
    expect(Array.from(await g.data())).toEqual([3, 12, 27]);
  });

  it('registers them in plain Node too, from the built package', () => {
    // Outside vitest's module loader: the built CommonJS entry in a child `node` process.
    const script = `
      const core = require(${JSON.stringify(distEntry)});
      const tf = require('@tensorflow/tfjs-core');
      core.useBackend('cpu').then(() => {
        const dx = tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([2, -1]));
        process.stdout.write(JSON.stringify({ report: core.engineReport(), dx: Array.from(dx.dataSync()) }));
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    expect(out.report.missingGradients).toEqual([]);
    expect(out.report.chainedOpsRegistered).toBe(true);
    expect(out.dx).toEqual([4, -2]);
  });

  it('counts tensors left behind', async () => {
    await cpuBackendPlugin.setup();
    expect(await countLeakedTensors(() => tf.tidy(() => tf.add(tf.ones([2]), 1)))).toBe(1);
    expect(await countLeakedTensors(() => tf.tidy(() => void tf.add(tf.ones([2]), 1)))).toBe(0);
  });
});
