import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export type Uniform = { type: 'int32' | 'float32'; data: number[] };

/**
 * A compute program in tfjs-backend-webgpu's program framework: `body` is the WGSL of
 * `main(index)`, run once per output element (flat dispatch). Inputs are bound as storage arrays
 * named by `inputs`, extra uniforms are declared in `uniforms` ("name : i32, ...") and read as
 * `uniforms.name`, and `result[index]` is the output.
 */
export class FlatProgram implements WebGPUProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly uniforms?: string;
  private readonly body: string;
  private readonly helpers: string;

  constructor(options: { name: string; inputs: string[]; outputShape: number[]; uniforms?: string; body: string; helpers?: string; threads?: number }) {
    this.variableNames = options.inputs;
    this.outputShape = options.outputShape;
    this.shaderKey = `pyramid_${options.name}`;
    this.uniforms = options.uniforms;
    this.body = options.body;
    this.helpers = options.helpers ?? '';
    const size = options.threads ?? options.outputShape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: options.outputShape.map((_, i) => i) };
    // Spread the workgroups over x and y: x alone is limited to 65,535 of them.
    const groups = Math.ceil(size / this.workgroupSize[0]);
    const x = Math.min(groups, 32768);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  getUserCode(): string {
    return `
      ${this.helpers}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        ${this.body}
      }
    `;
  }
}

/** Runs `program`; each value of `uniforms` fills one scalar field of its declaration, in order. */
export function run(backend: WebGPUBackend, program: FlatProgram, inputs: TensorInfo[], uniforms: Uniform[] = []): TensorInfo {
  const scalars = uniforms.flatMap((u) => u.data.map((value) => ({ type: u.type, data: [value] })));
  return backend.runWebGPUProgram(program, inputs, 'float32', scalars);
}
