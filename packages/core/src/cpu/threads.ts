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
 * Worker threads that run the parallel kernels on a shared WebAssembly memory: Node's
 * worker_threads, or Web Workers in a browser. Kernels must stay synchronous (tfjs kernel
 * functions return their outputs), so the calling thread hands each worker the job through a
 * shared control block, computes its own share, then blocks with Atomics.wait until the workers
 * are done: Node allows that on its main thread, a browser only in a worker (hence the web page
 * runs the model in a dedicated Web Worker, as onnxruntime-web's proxy worker does).
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

/** A started pool, or why the kernels run on the calling thread alone. */
export type ThreadPoolStart = { pool: ThreadPool; reason: null } | { pool: null; reason: string };

const ARGS = 8;
const MAX_ARGS = 32;
/**
 * Longest a thread sleeps before looking at the control block again. Training runs of tens of
 * minutes hung twice here with every thread asleep in Atomics.wait, a notification lost
 * somewhere; waits bounded by a timeout recover from that at a negligible cost.
 */
const POLL_MS = 20;
/** A worker that has not started by then never will (a blocked script, an exhausted browser). */
const START_TIMEOUT_MS = 30_000;

/** What each worker runs once it has its data: the same in Node and in browsers. */
const KERNEL_LOOP = `
function runKernels({ module, memory, control, index, kernels }, ready) {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control, ${ARGS} * 4, ${MAX_ARGS});
  let generation = 0;
  ready();
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
}
`;

// Evaluated as CommonJS or as an ES module depending on the parent's flags (--input-type): a
// dynamic import works in both.
const NODE_WORKER_SOURCE = `${KERNEL_LOOP}
import('node:worker_threads').then(({ parentPort, workerData }) => runKernels(workerData, () => parentPort.postMessage('ready')));
`;

// A classic Web Worker from a Blob URL, so that no bundler has to emit a file for it.
const WEB_WORKER_SOURCE = `${KERNEL_LOOP}
onmessage = ({ data }) => runKernels(data, () => postMessage('ready'));
`;

const isNode = () => typeof process !== 'undefined' && Boolean(process.versions?.node);

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why worker threads cannot serve the kernels here, in a sentence a user can act on; null where
 * they can. Checked before the kernels are compiled for a shared memory.
 */
export function threadsUnavailable(): string | null {
  if (isNode()) return typeof SharedArrayBuffer === 'undefined' ? 'this JavaScript runtime has no SharedArrayBuffer' : null;
  if (typeof SharedArrayBuffer === 'undefined' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return 'the page is not cross-origin isolated (its server sends no Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so it cannot share memory with workers';
  }
  if (typeof Worker === 'undefined') return 'this JavaScript environment has no Web Workers';
  if (!mayBlock()) return "a browser's main thread may not wait for worker threads (Atomics.wait); run the model in a Web Worker for more threads";
  return null;
}

/** The workers of one pool, however they are made. */
interface Workers {
  ready: Promise<unknown>;
  terminate(): void;
  /** After start: idle workers must not keep a Node process alive. */
  release(): void;
}

function nodeWorkers(size: number, data: (i: number) => object): Workers {
  // Not an import: a browser bundler would try to resolve it.
  const { Worker: NodeWorker } = process.getBuiltinModule('node:worker_threads');
  const workers = Array.from({ length: size }, (_, i) => new NodeWorker(NODE_WORKER_SOURCE, { eval: true, workerData: data(i) }));
  return {
    ready: Promise.all(workers.map((w) => new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }))),
    terminate: () => workers.forEach((w) => void w.terminate()),
    release: () => workers.forEach((w) => w.unref()),
  };
}

function webWorkers(size: number, data: (i: number) => object): Workers {
  const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
  const workers = Array.from({ length: size }, () => new Worker(url, { name: 'pyramid-cpu-kernels' }));
  const ready = Promise.all(workers.map((w, i) => new Promise((resolve, reject) => {
    w.onmessage = resolve;
    w.onerror = (event) => reject(new Error(event.message || 'a kernel worker failed to start'));
    w.postMessage(data(i));
  })));
  void ready.finally(() => URL.revokeObjectURL(url)).catch(() => undefined);
  return { ready, terminate: () => workers.forEach((w) => w.terminate()), release: () => undefined };
}

/**
 * Starts `size` workers on `memory` (shared) with the kernels of `module`; when they cannot start,
 * no pool and why (the kernels then run on the calling thread alone).
 */
export async function createThreadPool(size: number, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<ThreadPoolStart> {
  const unavailable = threadsUnavailable();
  if (unavailable) return { pool: null, reason: unavailable };
  const control = new SharedArrayBuffer((ARGS + MAX_ARGS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control, ARGS * 4, MAX_ARGS);
  const data = (i: number) => ({ module, memory, control, index: i + 1, kernels: PARALLEL_KERNELS });
  let workers: Workers | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    workers = isNode() ? nodeWorkers(size, data) : webWorkers(size, data);
    await Promise.race([
      workers.ready,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`they had not started after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    workers?.terminate();
    return { pool: null, reason: `worker threads would not start: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
  const started = workers;
  started.release();
  const pool: ThreadPool = {
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
      started.terminate();
    },
  };
  return { pool, reason: null };
}
