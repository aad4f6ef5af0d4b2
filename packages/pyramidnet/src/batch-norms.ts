import { BatchNorm2d, type Module } from '@pyramid/units';

/** Every BatchNorm2d of a module tree with its state_dict prefix ('layer1.0.bn1.'). */
export function batchNorms(module: Module, prefix = ''): [string, BatchNorm2d][] {
  const out: [string, BatchNorm2d][] = [];
  if (module instanceof BatchNorm2d) out.push([prefix, module]);
  for (const child of module.children()) out.push(...batchNorms(child.module, `${prefix}${child.name}.`));
  return out;
}

/** The names of the batch norms' scales and shifts (weight and bias), e.g. for exempting them from weight decay. */
export function batchNormParameterNames(model: Module): Set<string> {
  return new Set(batchNorms(model).flatMap(([prefix]) => [`${prefix}weight`, `${prefix}bias`]));
}
