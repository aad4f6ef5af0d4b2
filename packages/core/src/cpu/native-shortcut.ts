import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { outputArray } from './array-pool';
import { type CpuBackend, floatValues } from './backend';
import type { NativeKernels } from './native';
import { shortcutShape } from './shortcut';

/** The fused shortcut and its input gradient on the native addon. */
export function nativeShortcutKernels(native: NativeKernels): KernelConfig[] {
  const add: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { residual, x } = inputs as unknown as K.ShortcutAddInputs;
    const shape = shortcutShape(residual.shape, x.shape, (attrs as unknown as K.ShortcutAttrs).stride);
    const y = outputArray(backend, residual.shape.reduce((a, d) => a * d, 1));
    native.shortcutAdd(floatValues(backend, residual), floatValues(backend, x), y, Int32Array.from(shape));
    return backend.makeTensorInfo(residual.shape, 'float32', y);
  };

  const grad: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy } = inputs as unknown as K.ShortcutGradInputs;
    const { stride, xShape } = attrs as unknown as K.ShortcutGradAttrs;
    const shape = shortcutShape(dy.shape, xShape, stride);
    const dx = outputArray(backend, xShape.reduce((a, d) => a * d, 1));
    native.shortcutGrad(floatValues(backend, dy), dx, Int32Array.from(shape));
    return backend.makeTensorInfo(xShape, 'float32', dx);
  };

  return [
    { kernelName: K.SHORTCUT_ADD, backendName: 'cpu', kernelFunc: add },
    { kernelName: K.SHORTCUT_GRAD, backendName: 'cpu', kernelFunc: grad },
  ];
}
