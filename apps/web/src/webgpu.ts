/** What the page needs of `navigator.gpu`. */
export interface BrowserGpu {
  requestAdapter(): Promise<unknown>;
}

const FALLBACK = 'so the page runs on the CPU backend (WebAssembly) instead';

/**
 * Why this browser cannot run the page on WebGPU, said for the person at the browser (not for
 * whoever administers the machine); null where it can. `gpu` is `navigator.gpu`.
 */
export async function webGpuProblem(gpu: BrowserGpu | undefined): Promise<string | null> {
  if (!gpu) {
    return `this browser has no WebGPU, ${FALLBACK}. For WebGPU, use a current Chrome or Edge, or turn WebGPU on in your browser's settings.`;
  }
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) {
    return `this browser has WebGPU but offers no GPU to this page (its GPU may be blocked or hardware acceleration turned off), ${FALLBACK}. Turning hardware acceleration on in the browser's settings, or a current Chrome or Edge, may give it one.`;
  }
  return null;
}

/** The page's message when WebGPU was there but would not start. */
export function webGpuFailed(message: string): string {
  return `WebGPU would not start in this browser (${message}), ${FALLBACK}.`;
}
