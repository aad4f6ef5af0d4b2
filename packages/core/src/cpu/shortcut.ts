import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as K from '../ops/kernel-names';
import { type CpuBackend, floatValues, threadsForElements } from './backend';
import type { KernelRuntime } from './runtime';

/** [N, OH, OW, CO, H, W, CI, stride] of a shortcut, after checking that the residual fits the input. */
export function shortcutShape(residual: number[], x: number[], stride: 1 | 2): [number, number, number, number, number, number, number, 1 | 2] {
  const [N, OH, OW, CO] = residual;
  const [, H, W, CI] = x;
  const expectedH = stride === 2 ? Math.ceil(H / 2) : H;
  const expectedW = stride === 2 ? Math.ceil(W / 2) : W;
  if (OH !== expectedH || OW !== expectedW || CI > CO || x[0] !== N) {
    throw new Error(`shortcutAdd: residual [${residual}] does not fit input [${x}] at stride ${stride}`);
  }
  return [N, OH, OW, CO, H, W, CI, stride];
}

export function shortcutKernels(rt: KernelRuntime): KernelConfig[] {
  const add: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { residual, x } = inputs as unknown as K.ShortcutAddInputs;
    const stride = (attrs as unknown as K.ShortcutAttrs).stride;
    const [N, OH, OW, CO, H, W, CI] = shortcutShape(residual.shape, x.shape, stride);
    const size = N * OH * OW * CO;
    const threads = threadsForElements(rt, size);
    rt.reset();
    const R = rt.put(floatValues(backend, residual));
    const X = rt.put(floatValues(backend, x));
    const Y = rt.alloc(size * 4);
    rt.run('shortcutAdd', { residual: R, x: X, y: Y, N, OH, OW, CO, H, W, CI, stride }, threads);
    return backend.makeTensorInfo(residual.shape, 'float32', rt.take(Y, size));
  };

  const grad: KernelFunc = ({ inputs, attrs, backend: b }) => {
    const backend = b as unknown as CpuBackend;
    const { dy } = inputs as unknown as K.ShortcutGradInputs;
    const { stride, xShape } = attrs as unknown as K.ShortcutGradAttrs;
    const [N, OH, OW, CO] = dy.shape;
    const [, H, W, CI] = xShape;
    const size = N * H * W * CI;
    const threads = threadsForElements(rt, size);
    rt.reset();
    const dY = rt.put(floatValues(backend, dy));
    const dX = rt.alloc(size * 4);
    rt.run('shortcutGrad', { dy: dY, dx: dX, N, OH, OW, CO, H, W, CI, stride }, threads);
    return backend.makeTensorInfo(xShape, 'float32', rt.take(dX, size));
  };

  return [
    { kernelName: K.SHORTCUT_ADD, backendName: 'cpu', kernelFunc: add },
    { kernelName: K.SHORTCUT_GRAD, backendName: 'cpu', kernelFunc: grad },
  ];
}
