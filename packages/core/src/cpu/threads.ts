/** Kernels whose first two arguments are (thread, threads) and that split work among threads. */
export const PARALLEL_KERNELS = [
  'conv2dForward',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'channelSums',
  'channelGradSums',
  'channelAffine',
  'shortcutAdd',
  'shortcutGrad',
] as const;
export type ParallelKernel = (typeof PARALLEL_KERNELS)[number];

/**
 * Worker threads that run the parallel kernels on a shared WebAssembly memory. Kernels must stay
 * synchronous (tfjs kernel functions return their outputs), so the calling thread hands each
 * worker the job through a shared control block, computes its own share, then blocks with
 * Atomics.wait until the workers are done: Node allows that on the main thread.
 *
 * Control block (Int32): [0] job generation, [1] workers still running, [2] kernel index
 * (-1: exit), [3] threads, [4] first worker error flag, [8..] kernel arguments (as u32).
 */
export interface ThreadPool {
  readonly size: number;
  start(kernel: ParallelKernel, threads: number, args: number[]): void;
  wait(): void;
  terminate(): void;
}

const ARGS = 8;
const MAX_ARGS = 32;
/**
 * Longest a thread sleeps before looking at the control block again. Training runs of tens of
 * minutes hung twice here with every thread asleep in Atomics.wait, a notification lost
 * somewhere; waits bounded by a timeout recover from that at a negligible cost.
 */
const POLL_MS = 20;

// Evaluated as CommonJS or as an ES module depending on the parent's flags (--input-type): a
// dynamic import works in both.
const WORKER_SOURCE = `
import('node:worker_threads').then(({ parentPort, workerData }) => {
  const { module, memory, control, index, kernels } = workerData;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control, ${ARGS} * 4, ${MAX_ARGS});
  let generation = 0;
  parentPort.postMessage('ready');
  for (;;) {
    // Bounded waits: a wake-up that never arrives costs ${POLL_MS} ms, never a hung process.
    while (Atomics.load(ctl, 0) === generation) Atomics.wait(ctl, 0, generation, ${POLL_MS});
    generation = Atomics.load(ctl, 0);
    const kernel = Atomics.load(ctl, 2);
    if (kernel < 0) break;
    const threads = ctl[3];
    if (index < threads) {
      try {
        exports[kernels[kernel]](index, threads, ...args);
      } catch (error) {
        Atomics.store(ctl, 4, 1);
      }
      if (Atomics.sub(ctl, 1, 1) === 1) Atomics.notify(ctl, 1);
    }
  }
});
`;

export async function createThreadPool(size: number, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<ThreadPool | null> {
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  const { Worker } = await import('node:worker_threads');
  const control = new SharedArrayBuffer((ARGS + MAX_ARGS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control, ARGS * 4, MAX_ARGS);
  const workers = Array.from(
    { length: size },
    (_, i) => new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, index: i + 1, kernels: PARALLEL_KERNELS } }),
  );
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  })));
  // Idle workers must not keep the process alive.
  for (const w of workers) w.unref();
  return {
    size,
    start(kernel, threads, values) {
      args.fill(0);
      values.forEach((v, i) => (args[i] = v >>> 0));
      Atomics.store(ctl, 2, PARALLEL_KERNELS.indexOf(kernel));
      Atomics.store(ctl, 3, threads);
      Atomics.store(ctl, 4, 0);
      Atomics.store(ctl, 1, threads - 1);
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    },
    wait() {
      for (let running = Atomics.load(ctl, 1); running !== 0; running = Atomics.load(ctl, 1)) {
        Atomics.wait(ctl, 1, running, POLL_MS);
      }
      if (Atomics.load(ctl, 4)) throw new Error('a CPU kernel failed in a worker thread');
    },
    terminate() {
      Atomics.store(ctl, 2, -1);
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      for (const w of workers) void w.terminate();
    },
  };
}
