import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@pyramid/core';

/** What a forward pass needs besides its input. */
export interface ForwardContext {
  /** Batch statistics, running-stat updates and ShakeDrop noise when true; running statistics when false. */
  training: boolean;
  /** Source of ShakeDrop's per-step random factors; required when training with ShakeDrop. */
  rng?: Rng;
}

/** A named tensor of a module: a trainable parameter or a buffer such as a BN running statistic. */
export interface NamedTensor {
  name: string;
  variable: tf.Variable;
  kind: 'parameter' | 'buffer';
}

/**
 * A minimal module tree in the spirit of torch.nn.Module: parameters and buffers carry the names
 * that PyTorch's state_dict gives them (`layer1.0.bn1.running_mean`), which is what makes weight
 * import and export a matter of layout, not of renaming.
 */
export abstract class Module {
  private readonly ownTensors: { name: string; variable: tf.Variable; kind: 'parameter' | 'buffer' }[] = [];
  private readonly childModules: { name: string; module: Module }[] = [];

  protected addParameter(name: string, value: tf.Tensor): tf.Variable {
    const variable = tf.variable(value, true);
    value.dispose();
    this.ownTensors.push({ name, variable, kind: 'parameter' });
    return variable;
  }

  protected addBuffer(name: string, value: tf.Tensor): tf.Variable {
    const variable = tf.variable(value, false);
    value.dispose();
    this.ownTensors.push({ name, variable, kind: 'buffer' });
    return variable;
  }

  protected addChild<M extends Module>(name: string, module: M): M {
    this.childModules.push({ name, module });
    return module;
  }

  /** Every parameter and buffer below this module, in registration order, with full names. */
  namedTensors(prefix = ''): NamedTensor[] {
    const out: NamedTensor[] = this.ownTensors.map((t) => ({ ...t, name: prefix + t.name }));
    for (const child of this.childModules) out.push(...child.module.namedTensors(`${prefix}${child.name}.`));
    return out;
  }

  /** Trainable variables, in registration order. */
  parameters(): tf.Variable[] {
    return this.namedTensors()
      .filter((t) => t.kind === 'parameter')
      .map((t) => t.variable);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, v) => n + v.size, 0);
  }

  children(): readonly { name: string; module: Module }[] {
    return this.childModules;
  }

  /** Frees every variable of the tree. */
  dispose(): void {
    for (const t of this.ownTensors) t.variable.dispose();
    for (const c of this.childModules) c.module.dispose();
  }
}

/** An ordered container whose children are named 0, 1, 2, ... as in torch.nn.Sequential. */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: M[]) {
    super();
    items.forEach((item, i) => this.addChild(String(i), item));
    this.items = items;
  }
}
