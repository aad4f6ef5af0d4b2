import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, sgdUpdateAll } from '@pyramid/core';

export interface SgdOptions {
  momentum: number;
  /** PyTorch's dampening; the paper's recipe uses 0. */
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** Names of parameters exempt from weight decay (e.g. BN scales and shifts). */
  noDecay?: ReadonlySet<string>;
  /** Learning-rate multipliers by parameter name (PyTorch: a param group with its own lr); others 1. */
  lrScale?: ReadonlyMap<string, number>;
}

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/**
 * Stochastic gradient descent exactly as torch.optim.SGD computes it:
 *   g = grad + weight_decay * p              (weight decay added to the gradient)
 *   b = momentum * b + (1 - dampening) * g   (b starts at g, i.e. at zero when dampening is 0)
 *   g = g + momentum * b if nesterov else b
 *   p = p - lr * g
 * tfjs's optimizers have no weight decay, hence this one. Its momentum buffers are named like
 * the parameters, so that checkpoints store and restore them.
 */
export class Sgd {
  readonly options: SgdOptions;
  private readonly params: NamedVariable[];
  private readonly buffers = new Map<string, tf.Variable>();
  private started = false;

  constructor(params: NamedVariable[], options: SgdOptions) {
    if (!(options.momentum >= 0)) throw new ConfigError(`momentum must be non-negative, got ${options.momentum}`);
    if (!(options.weightDecay >= 0)) throw new ConfigError(`weight decay must be non-negative, got ${options.weightDecay}`);
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) {
      throw new ConfigError('Nesterov momentum needs momentum > 0 and dampening 0');
    }
    this.params = params;
    this.options = options;
  }

  /** One update with learning rate `lr`; `grads` maps tfjs variable names to gradients. */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    const { momentum, dampening, nesterov, weightDecay, noDecay, lrScale } = this.options;
    // Parameters by learning-rate scale (a fine-tuned head's own rate): one update per group.
    const groups = new Map<number, { params: tf.Variable[]; gradients: tf.Tensor[]; buffers: (tf.Variable | null)[]; weightDecays: number[] }>();
    for (const { name, variable } of this.params) {
      const grad = grads[variable.name];
      if (!grad) continue;
      let buffer = this.buffers.get(name) ?? null;
      if (momentum > 0 && !buffer) {
        buffer = tf.variable(tf.zerosLike(variable), false);
        this.buffers.set(name, buffer);
      }
      const scale = lrScale?.get(name) ?? 1;
      const group = groups.get(scale) ?? { params: [], gradients: [], buffers: [], weightDecays: [] };
      groups.set(scale, group);
      group.params.push(variable);
      group.gradients.push(grad);
      group.buffers.push(buffer);
      group.weightDecays.push(noDecay?.has(name) ? 0 : weightDecay);
    }
    // Each group in one update, which a GPU backend runs in a dispatch or two. First step: torch
    // initialises the buffer with g itself, whatever the dampening.
    for (const [scale, g] of groups) {
      sgdUpdateAll(g.params, g.gradients, g.buffers, { lr: lr * scale, momentum, dampening, nesterov, weightDecays: g.weightDecays, first: !this.started });
    }
    this.started = true;
  }

  /** Momentum buffers by parameter name, for checkpoints. */
  state(): { started: boolean; buffers: Map<string, tf.Variable> } {
    return { started: this.started, buffers: this.buffers };
  }

  /** Restores buffers saved by `state()`; shapes must match the parameters. */
  load(started: boolean, buffers: Map<string, { shape: number[]; values: Float32Array }>): void {
    const byName = new Map(this.params.map((p) => [p.name, p.variable]));
    for (const [name, { shape }] of buffers) {
      const param = byName.get(name);
      if (!param) throw new ConfigError(`optimizer state has a buffer for unknown parameter '${name}'`);
      if (param.shape.join('x') !== shape.join('x')) {
        throw new ConfigError(`optimizer buffer '${name}' has shape [${shape}], its parameter [${param.shape}]`);
      }
    }
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const [name, { shape, values }] of buffers) this.buffers.set(name, tf.variable(tf.tensor(values, shape), false));
    this.started = started;
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
