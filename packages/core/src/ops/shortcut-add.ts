import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-registrations';
import { SHORTCUT_ADD, SHORTCUT_GRAD } from './kernel-names';

export { SHORTCUT_ADD, SHORTCUT_GRAD };

/**
 * The zero-padded shortcut of a pyramidal unit and its addition as one op:
 *   out = residual + appendZeroChannels(stride == 2 ? averagePool2x2CeilMode(x) : x)
 * Its kernels and their contracts: SHORTCUT_ADD and SHORTCUT_GRAD in kernel-names.ts.
 * The residual's gradient is dy itself. Without the kernels the same maths runs as tfjs ops.
 */

// tfjs's gradient registry is process-wide: whichever build of this package comes first registers.
function registerGradient(): void {
  if (tf.getGradient(SHORTCUT_ADD)) return;
  tf.registerGradient({
    kernelName: SHORTCUT_ADD,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return {
        residual: () => tf.clone(dy as tf.Tensor),
        x: () => tf.engine().runKernel(SHORTCUT_GRAD, { dy: dy as tf.Tensor }, { ...attrs, xShape: x.shape }) as tf.Tensor,
      };
    },
  });
}

/**
 * 2x2 / stride-2 average pool with PyTorch's ceil_mode=True: on an odd side the last window hangs
 * over the edge and averages only the pixels it covers.
 */
export function averagePool2x2CeilMode(x: tf.Tensor4D): tf.Tensor4D {
  const [, height, width] = x.shape;
  const padBottom = height % 2;
  const padRight = width % 2;
  if (!padBottom && !padRight) return tf.avgPool(x, 2, 2, 'valid');
  // tfjs's 'same' padding computes this forward pass but its AvgPoolGrad divides partial windows
  // by 4 instead of by the pixels they cover (tfjs 4.22). Zero-padding, a full-window average and
  // a rescale of the edge windows by 4 / covered pixels give the same values with exact gradients.
  const pooled = tf.avgPool(tf.pad(x, [[0, 0], [0, padBottom], [0, padRight], [0, 0]]), 2, 2, 'valid');
  const [, outH, outW] = pooled.shape;
  const scale = new Float32Array(outH * outW);
  for (let i = 0; i < outH; i++) {
    for (let j = 0; j < outW; j++) {
      const rows = padBottom && i === outH - 1 ? 1 : 2;
      const cols = padRight && j === outW - 1 ? 1 : 2;
      scale[i * outW + j] = 4 / (rows * cols);
    }
  }
  return tf.mul(pooled, tf.tensor4d(scale, [1, outH, outW, 1]));
}

export function appendZeroChannels(x: tf.Tensor4D, channels: number): tf.Tensor4D {
  const extra = channels - x.shape[3];
  if (extra === 0) return x;
  return tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]);
}

export function shortcutAdd(residual: tf.Tensor4D, x: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  const backend = tf.getBackend();
  if (backend == null || tf.getKernel(SHORTCUT_ADD, backend) == null) {
    const pooled = stride === 2 ? averagePool2x2CeilMode(x) : x;
    return tf.add(residual, appendZeroChannels(pooled, residual.shape[3]));
  }
  registerGradient();
  return tf.engine().runKernel(SHORTCUT_ADD, { residual, x }, { stride }) as tf.Tensor4D;
}
