import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from '@pyramid/core';

export { crossEntropy };

/**
 * The loss of a mixed batch (mixup, CutMix), as their reference code computes it:
 * lambda * CE(labels) + (1 - lambda) * CE(mixedLabels).
 */
export function mixedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, mixedLabels: tf.Tensor1D, lambda: number, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mul(crossEntropy(logits, labels, labelSmoothing), lambda), tf.mul(crossEntropy(logits, mixedLabels, labelSmoothing), 1 - lambda)) as tf.Scalar);
}

/** For each row, whether the label is among the k largest logits (ties counted in index order). */
export function topKHits(logits: Float32Array, labels: ArrayLike<number>, classes: number, k: number): boolean[] {
  const hits: boolean[] = [];
  for (let i = 0; i < labels.length; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const target = row[labels[i]];
    let better = 0;
    for (let c = 0; c < classes; c++) {
      if (row[c] > target || (row[c] === target && c < labels[i])) better++;
    }
    hits.push(better < k);
  }
  return hits;
}
