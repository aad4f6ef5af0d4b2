import type { KernelConfig } from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_PARAMS, BATCH_NORM_RUNNING_STATS, BATCH_NORM_TRAINING, KernelOverlay, SGD_APPLY, SGD_MOMENTUM, SGD_STEP, SHORTCUT_ADD, SHORTCUT_GRAD } from '@pyramid/core';
import { batchNormGradInput, batchNormGradParams, batchNormRunningStats, batchNormTraining } from './batch-norm';
import { conv2dBackpropFilterKernel } from './conv-filter-grad';
import { sgdApply, sgdMomentum } from './sgd';
import { sgdStep } from './sgd-step';
import { shortcutAdd, shortcutGrad } from './shortcut';
import { packKernel, unpackKernel } from './stack-copies';

/**
 * The project's WebGPU kernels, registered for the 'webgpu' backend by kernel name over (or
 * beside) tfjs-backend-webgpu's, as the CPU plugin does for 'cpu'.
 */
const overlay = new KernelOverlay('webgpu');

function kernels(): Omit<KernelConfig, 'backendName'>[] {
  return [
    { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilterKernel((args) => overlay.original('Conv2DBackpropFilter')(args)) },
    { kernelName: 'Pack', kernelFunc: packKernel((args) => overlay.original('Pack')(args)) },
    { kernelName: 'Unpack', kernelFunc: unpackKernel((args) => overlay.original('Unpack')(args)) },
    { kernelName: BATCH_NORM_TRAINING, kernelFunc: batchNormTraining },
    { kernelName: BATCH_NORM_GRAD_PARAMS, kernelFunc: batchNormGradParams },
    { kernelName: BATCH_NORM_GRAD_INPUT, kernelFunc: batchNormGradInput },
    { kernelName: BATCH_NORM_RUNNING_STATS, kernelFunc: batchNormRunningStats },
    { kernelName: SHORTCUT_ADD, kernelFunc: shortcutAdd },
    { kernelName: SHORTCUT_GRAD, kernelFunc: shortcutGrad },
    { kernelName: SGD_MOMENTUM, kernelFunc: sgdMomentum },
    { kernelName: SGD_APPLY, kernelFunc: sgdApply },
    { kernelName: SGD_STEP, kernelFunc: sgdStep },
  ];
}

export function installWebGpuKernels(): string[] {
  const set = kernels();
  overlay.install(set);
  return set.map((k) => k.kernelName);
}

export function restoreStockWebGpuKernels(): void {
  overlay.restore();
}
