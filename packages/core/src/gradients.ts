import * as tf from '@tensorflow/tfjs-core';

/** What tfjs-core's engine records per op while a gradient is taken (its internal tape node). */
interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

function activeTape(): TapeNode[] | null {
  return (tf.engine() as unknown as { state: { activeTape: TapeNode[] | null } }).state.activeTape;
}

/**
 * tf.variableGrads with the memory of the backward pass released as it goes, as PyTorch's autograd
 * does: tfjs keeps every op's saved tensors and every intermediate gradient until the whole
 * backward pass ends, which for a deep network doubles the peak (the activations plus a gradient
 * of each). Here the forward's intermediates are freed when it returns (the tape holds what the
 * backward pass needs), and once the backward pass has moved past an op, that op's saved tensors
 * and output gradients are freed. Values are exactly tf.variableGrads's.
 */
export function variableGradsReleasing(f: () => tf.Scalar, varList?: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  return tf.variableGrads(() => {
    const value = tf.tidy(f);
    const tape = activeTape();
    if (tape) releaseAsBackwardPasses(tape);
    return value;
  }, varList);
}

/**
 * Wraps each node's gradient so that, when the backward pass reaches the next node (tfjs walks the
 * tape in reverse and runs a node's input-gradient thunks before moving on), the previous node's
 * saved tensors and output gradients are disposed: nothing later reads them. A gradient a thunk
 * returned as is (an output gradient passed through) is now an input's and is kept.
 */
function releaseAsBackwardPasses(tape: TapeNode[]): void {
  let pending: { node: TapeNode; dys: (tf.Tensor | null)[]; passed: Set<tf.Tensor> } | null = null;
  const release = () => {
    if (!pending) return;
    const { node, dys, passed } = pending;
    pending = null;
    for (const dy of dys) if (dy && !passed.has(dy)) dy.dispose();
    for (const t of node.saved ?? []) t.dispose();
  };
  for (const node of tape) {
    const gradient = node.gradient;
    if (!gradient) continue;
    node.gradient = (dys) => {
      release();
      const thunks = gradient(dys);
      const passed = new Set<tf.Tensor>();
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const [name, thunk] of Object.entries(thunks)) {
        wrapped[name] = () => {
          const dx = thunk();
          passed.add(dx);
          return dx;
        };
      }
      pending = { node, dys, passed };
      return wrapped;
    };
  }
}
