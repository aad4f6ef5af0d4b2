import { describe, expect, it } from 'vitest';
import { webGpuProblem } from './webgpu';

describe('webGpuProblem', () => {
  it('tells a browser without navigator.gpu that it falls back to the CPU, with a browser hint and no system commands', async () => {
    const text = await webGpuProblem(undefined);
    expect(text).toBe(
      "this browser has no WebGPU, so the page runs on the CPU backend (WebAssembly) instead. For WebGPU, use a current Chrome or Edge, or turn WebGPU on in your browser's settings.",
    );
    expect(text).not.toMatch(/apt|mesa|vulkan|https?:/i);
  });

  it('tells a browser whose WebGPU has no adapter (or whose request fails) that it falls back to the CPU', async () => {
    for (const gpu of [{ requestAdapter: async () => null }, { requestAdapter: () => Promise.reject(new Error('blocked')) }]) {
      const text = await webGpuProblem(gpu);
      expect(text).toMatch(/^this browser has WebGPU but offers no GPU to this page .*, so the page runs on the CPU backend \(WebAssembly\) instead\. /);
      expect(text).not.toMatch(/apt|mesa|vulkan|https?:/i);
    }
  });

  it('finds no problem where an adapter is offered', async () => {
    expect(await webGpuProblem({ requestAdapter: async () => ({}) })).toBeNull();
  });
});
