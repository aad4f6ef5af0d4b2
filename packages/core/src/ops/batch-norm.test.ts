import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackendPlugin } from '../backends/cpu';
import { relativeError } from '../numeric';
import { Rng } from '../random';
import { batchNormTraining, updateRunningStatistics } from './batch-norm';

const MODES = [
  ['composite ops', { kernels: 'stock' as const }],
  ['fused kernels, 1 thread', { kernels: 'project' as const, threads: 1 }],
  ['fused kernels, 2 threads', { kernels: 'project' as const, threads: 2 }],
] as const;

afterAll(async () => {
  await cpuBackendPlugin.setup({ kernels: 'stock' });
});

/**
 * The batch-norm input gradient written out from its definition, in float64:
 * dx = scale * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), per channel.
 */
function referenceGradients(x: Float32Array, dy: Float32Array, scale: Float32Array, C: number, eps: number) {
  const n = x.length / C;
  const dx = new Float64Array(x.length);
  const dScale = new Float64Array(C);
  const dOffset = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * C + c] / n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x[i * C + c] - mean) ** 2 / n;
    const rstd = 1 / Math.sqrt(variance + eps);
    let meanDy = 0;
    let meanDyXhat = 0;
    for (let i = 0; i < n; i++) {
      const xhat = (x[i * C + c] - mean) * rstd;
      meanDy += dy[i * C + c] / n;
      meanDyXhat += (dy[i * C + c] * xhat) / n;
      dScale[c] += dy[i * C + c] * xhat;
      dOffset[c] += dy[i * C + c];
    }
    for (let i = 0; i < n; i++) {
      const xhat = (x[i * C + c] - mean) * rstd;
      dx[i * C + c] = scale[c] * rstd * (dy[i * C + c] - meanDy - xhat * meanDyXhat);
    }
  }
  return { dx, dScale, dOffset };
}

describe.each(MODES)('batchNormTraining with %s', (_, options) => {
  it('normalises with the batch mean and biased variance', async () => {
    await cpuBackendPlugin.setup(options);
    // Channel 0: 1, 2, 3, 6 (mean 3, variance 3.5); channel 1: 0, 0, 4, 4 (mean 2, variance 4).
    const x = tf.tensor4d([1, 0, 2, 0, 3, 4, 6, 4], [1, 2, 2, 2]);
    const { y, mean, variance } = batchNormTraining(x, tf.tensor1d([2, 1]), tf.tensor1d([0.5, -1]), 1e-5);
    expect(Array.from(mean.dataSync())).toEqual([3, 2]);
    expect(Array.from(variance.dataSync())).toEqual([3.5, 4]);
    const expected = [1, 0, 2, 0, 3, 4, 6, 4].map((v, i) => (i % 2 === 0 ? (2 * (v - 3)) / Math.sqrt(3.5 + 1e-5) + 0.5 : (v - 2) / Math.sqrt(4 + 1e-5) - 1));
    y.dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('has the gradients of its definition, for x, scale and offset', async () => {
    await cpuBackendPlugin.setup(options);
    const seed = Date.now() % 1_000_000;
    const rng = Rng.fromSeed(seed);
    const shape = [4, 20, 20, 13]; // above the size where two threads split the work
    const C = shape[3];
    const xv = rng.fillNormal(new Float32Array(4 * 20 * 20 * C), 3, 2);
    const dyv = rng.fillNormal(new Float32Array(xv.length));
    const scale = rng.fillNormal(new Float32Array(C));
    const [dx, dScale, dOffset] = tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTraining(x as tf.Tensor4D, s as tf.Tensor1D, o as tf.Tensor1D, 1e-5).y, tf.tensor(dyv, shape))),
    )([tf.tensor(xv, shape), tf.tensor1d(scale), tf.zeros([C])]);
    const expected = referenceGradients(xv, dyv, scale, C, 1e-5);
    expect(relativeError(dx.dataSync(), expected.dx), `seed ${seed}`).toBeLessThan(1e-4);
    expect(relativeError(dScale.dataSync(), expected.dScale), `seed ${seed}`).toBeLessThan(1e-4);
    expect(relativeError(dOffset.dataSync(), expected.dOffset), `seed ${seed}`).toBeLessThan(1e-4);
  });

  it('fuses a ReLU: output clipped at 0 and gradient masked where it was clipped', async () => {
    await cpuBackendPlugin.setup(options);
    const rng = Rng.fromSeed(12);
    const shape = [2, 5, 5, 6];
    const xv = rng.fillNormal(new Float32Array(2 * 5 * 5 * 6));
    const dyv = rng.fillNormal(new Float32Array(xv.length));
    const scale = tf.tensor1d(rng.fillNormal(new Float32Array(6)));
    const offset = tf.tensor1d(rng.fillNormal(new Float32Array(6)));
    // Independent path: tfjs's moments, batchNorm and relu ops and their registered gradients.
    const composite = (x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.relu(tf.batchNorm4d(x as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-5));
    };
    const fused = (x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => batchNormTraining(x as tf.Tensor4D, s as tf.Tensor1D, o as tf.Tensor1D, 1e-5, true).y;
    const dy = tf.tensor(dyv, shape);
    const args = [tf.tensor(xv, shape), scale, offset];
    const expected = tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(composite(x, s, o), dy)))(args);
    const actual = tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(fused(x, s, o), dy)))(args);
    expect(relativeError(fused(args[0], scale, offset).dataSync(), composite(args[0], scale, offset).dataSync())).toBeLessThan(1e-5);
    expect(Math.min(...fused(args[0], scale, offset).dataSync())).toBe(0);
    actual.forEach((g, i) => expect(relativeError(g.dataSync(), expected[i].dataSync())).toBeLessThan(1e-4));
  });

  it('computes the input gradient alone when scale and offset are frozen', async () => {
    await cpuBackendPlugin.setup(options);
    const rng = Rng.fromSeed(4);
    const xv = rng.fillNormal(new Float32Array(2 * 3 * 3 * 5));
    const dyv = rng.fillNormal(new Float32Array(xv.length));
    const scale = tf.tensor1d([1, 2, 3, 4, 5]);
    const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(x as tf.Tensor4D, scale, tf.zeros([5]) as tf.Tensor1D, 1e-5).y, tf.tensor(dyv, [2, 3, 3, 5]))))(
      tf.tensor(xv, [2, 3, 3, 5]),
    );
    expect(relativeError(dx.dataSync(), referenceGradients(xv, dyv, scale.dataSync() as Float32Array, 5, 1e-5).dx)).toBeLessThan(1e-4);
  });

  it.runIf(options.kernels === 'project')('keeps its output for the backward pass only when a ReLU masks the gradient', async () => {
    await cpuBackendPlugin.setup(options);
    // What the gradient tape holds after the forward pass: without the ReLU the output is the
    // shortcut's input, and holding it would keep one more activation per unit alive.
    const tape = () => (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state.activeTape;
    for (const relu of [false, true]) {
      let outputSaved: boolean | undefined;
      tf.grad((x: tf.Tensor) => {
        const { y } = batchNormTraining(x as tf.Tensor4D, tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 1e-5, relu);
        const dataId = y.dataId;
        outputSaved = tape().some((node) => node.saved?.some((t) => t.dataId === dataId));
        return tf.sum(y);
      })(tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 5));
      expect(outputSaved, `relu: ${relu}`).toBe(relu);
    }
  });

  it('updates the running statistics as PyTorch does: (1 - m) running + m batch, the variance unbiased', async () => {
    await cpuBackendPlugin.setup(options);
    const runningMean = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const runningVar = tf.variable(tf.tensor1d([1, 0.25, 4]));
    // 8 values per channel: the variance is unbiased by 8 / 7. By hand, in float64.
    updateRunningStatistics(runningMean, runningVar, tf.tensor1d([1, 2, -3]), tf.tensor1d([0.7, 1.4, 0.07]), 0.1, 8);
    const expectedMean = [0.9 * 0.5 + 0.1 * 1, 0.9 * -1 + 0.1 * 2, 0.9 * 2 + 0.1 * -3];
    const expectedVar = [0.9 * 1 + 0.1 * 0.8, 0.9 * 0.25 + 0.1 * 1.6, 0.9 * 4 + 0.1 * 0.08];
    expect(relativeError(runningMean.dataSync(), Float64Array.from(expectedMean))).toBeLessThan(1e-6);
    expect(relativeError(runningVar.dataSync(), Float64Array.from(expectedVar))).toBeLessThan(1e-6);
    tf.dispose([runningMean, runningVar]);
  });

  it('rounds the running statistics exactly as the composite ops do', async () => {
    // The second method: tfjs's stock multiplies and adds, float32 at every step, bit for bit.
    const rng = Rng.fromSeed(9);
    const values = [rng.fillNormal(new Float32Array(37)), rng.fillNormal(new Float32Array(37)), rng.fillNormal(new Float32Array(37)), rng.fillUniform(new Float32Array(37), 0.1, 3)];
    const run = async (kernels: typeof options) => {
      await cpuBackendPlugin.setup(kernels);
      const [mean, variance] = [tf.variable(tf.tensor1d(values[0])), tf.variable(tf.tensor1d(values[3]))];
      updateRunningStatistics(mean, variance, tf.tensor1d(values[1]), tf.tensor1d(values[2].map(Math.abs)), 0.1, 128 * 32 * 32);
      const out = [Array.from(mean.dataSync()), Array.from(variance.dataSync())];
      tf.dispose([mean, variance]);
      return out;
    };
    expect(await run(options)).toEqual(await run({ kernels: 'stock' }));
  });
});
