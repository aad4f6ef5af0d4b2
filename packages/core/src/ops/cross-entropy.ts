import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean softmax cross-entropy of logits [B, K] against integer labels, with label smoothing
 * eps as torch.nn.CrossEntropyLoss(label_smoothing=eps) applies it: target = (1 - eps) one-hot + eps / K.
 * Here rather than with the trainer so that a backend's compiled step computes its loss with the
 * very ops the op-by-op step uses.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logProbs = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(labels, classes);
    const target = labelSmoothing > 0 ? tf.add(tf.mul(oneHot, 1 - labelSmoothing), labelSmoothing / classes) : oneHot;
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logProbs), 1))) as tf.Scalar;
  });
}
