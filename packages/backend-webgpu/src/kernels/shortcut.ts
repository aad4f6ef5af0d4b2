import type { KernelFunc } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { ShortcutAddInputs, ShortcutAttrs, ShortcutGradAttrs, ShortcutGradInputs } from '@pyramid/core';
import { FlatProgram, run } from './program';

/** The fused zero-padded shortcut and addition of @pyramid/core (PyramidShortcutAdd / Grad). */
const ADD = `
  let CO = uniforms.CO;
  let c = index % CO;
  let pixel = index / CO;
  let j = pixel % uniforms.OW;
  let i = (pixel / uniforms.OW) % uniforms.OH;
  let n = pixel / (uniforms.OW * uniforms.OH);
  var v = residual[index];
  if (c < uniforms.CI) {
    if (uniforms.stride == 1) {
      v += x[((n * uniforms.H + i) * uniforms.W + j) * uniforms.CI + c];
    } else {
      let rows = select(1, 2, 2 * i + 1 < uniforms.H);
      let cols = select(1, 2, 2 * j + 1 < uniforms.W);
      var s = 0.0;
      for (var a = 0; a < rows; a++) {
        for (var b = 0; b < cols; b++) {
          s += x[((n * uniforms.H + 2 * i + a) * uniforms.W + 2 * j + b) * uniforms.CI + c];
        }
      }
      v += s / f32(rows * cols);
    }
  }
  result[index] = v;
`;

const GRAD = `
  let CI = uniforms.CI;
  let c = index % CI;
  let pixel = index / CI;
  let w = pixel % uniforms.W;
  let h = (pixel / uniforms.W) % uniforms.H;
  let n = pixel / (uniforms.W * uniforms.H);
  if (uniforms.stride == 1) {
    result[index] = dy[((n * uniforms.OH + h) * uniforms.OW + w) * uniforms.CO + c];
  } else {
    let i = h / 2;
    let j = w / 2;
    let rows = select(1, 2, 2 * i + 1 < uniforms.H);
    let cols = select(1, 2, 2 * j + 1 < uniforms.W);
    result[index] = dy[((n * uniforms.OH + i) * uniforms.OW + j) * uniforms.CO + c] / f32(rows * cols);
  }
`;

const UNIFORMS = 'OH : i32, OW : i32, CO : i32, H : i32, W : i32, CI : i32, stride : i32,';

export const shortcutAdd: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { residual, x } = args.inputs as unknown as ShortcutAddInputs;
  const { stride } = args.attrs as unknown as ShortcutAttrs;
  const [, OH, OW, CO] = residual.shape;
  const [, H, W, CI] = x.shape;
  return run(backend, new FlatProgram({ name: 'shortcut_add', inputs: ['residual', 'x'], outputShape: [...residual.shape], uniforms: UNIFORMS, body: ADD }), [residual, x], [{ type: 'int32', data: [OH, OW, CO, H, W, CI, stride] }]);
};

export const shortcutGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackend;
  const { dy } = args.inputs as unknown as ShortcutGradInputs;
  const { stride, xShape } = args.attrs as unknown as ShortcutGradAttrs;
  const [, OH, OW, CO] = dy.shape;
  const [, H, W, CI] = xShape;
  return run(backend, new FlatProgram({ name: 'shortcut_grad', inputs: ['dy'], outputShape: [...xShape], uniforms: UNIFORMS, body: GRAD }), [dy], [{ type: 'int32', data: [OH, OW, CO, H, W, CI, stride] }]);
};
