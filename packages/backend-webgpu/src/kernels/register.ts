import { type KernelConfig, type KernelFunc, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_TRAINING, SGD_APPLY, SGD_MOMENTUM, SHORTCUT_ADD, SHORTCUT_GRAD } from '@pyramid/core';
import { batchNormGradInput, batchNormGradParams, batchNormTraining } from './batch-norm';
import { conv2dBackpropFilterKernel } from './conv-filter-grad';
import { sgdApply, sgdMomentum } from './sgd';
import { shortcutAdd, shortcutGrad } from './shortcut';

/**
 * The project's WebGPU kernels, registered for the 'webgpu' backend by kernel name over (or
 * beside) tfjs-backend-webgpu's, as the CPU plugin does for 'cpu'.
 */
const stockKernels = new Map<string, KernelConfig>();
let installed: KernelConfig[] = [];

function stock(name: string): KernelFunc {
  const config = stockKernels.get(name) ?? getKernel(name, 'webgpu');
  if (!config) throw new Error(`no stock WebGPU kernel '${name}'`);
  return config.kernelFunc;
}

export function installWebGpuKernels(): string[] {
  if (installed.length === 0) {
    installed = [
      { kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc: conv2dBackpropFilterKernel((args) => stock('Conv2DBackpropFilter')(args)) },
      { kernelName: BATCH_NORM_TRAINING, backendName: 'webgpu', kernelFunc: batchNormTraining },
      { kernelName: BATCH_NORM_GRAD_PARAMS, backendName: 'webgpu', kernelFunc: batchNormGradParams },
      { kernelName: BATCH_NORM_GRAD_INPUT, backendName: 'webgpu', kernelFunc: batchNormGradInput },
      { kernelName: SHORTCUT_ADD, backendName: 'webgpu', kernelFunc: shortcutAdd },
      { kernelName: SHORTCUT_GRAD, backendName: 'webgpu', kernelFunc: shortcutGrad },
      { kernelName: SGD_MOMENTUM, backendName: 'webgpu', kernelFunc: sgdMomentum },
      { kernelName: SGD_APPLY, backendName: 'webgpu', kernelFunc: sgdApply },
    ];
  }
  for (const config of installed) {
    const existing = getKernel(config.kernelName, 'webgpu');
    if (existing && existing !== config && !installed.includes(existing) && !stockKernels.has(config.kernelName)) stockKernels.set(config.kernelName, existing);
    if (existing) unregisterKernel(config.kernelName, 'webgpu');
    registerKernel(config);
  }
  return installed.map((k) => k.kernelName);
}

export function restoreStockWebGpuKernels(): void {
  for (const config of installed) if (getKernel(config.kernelName, 'webgpu')) unregisterKernel(config.kernelName, 'webgpu');
  for (const config of stockKernels.values()) registerKernel(config);
  stockKernels.clear();
}
