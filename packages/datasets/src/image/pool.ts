import { existsSync } from 'node:fs';
import type { TransformSpec } from './transforms';
import { processAll } from './process';

export interface DecodeItem {
  bytes: Uint8Array;
  source: string;
  /** Pre-drawn uniforms for a random transform. */
  uniforms?: Float64Array;
}

export interface DecodeRequest {
  id: number;
  items: DecodeItem[];
  channels: 1 | 3;
  transform: TransformSpec;
}

export type DecodeResult = { data: Uint8Array } | { error: string };

/**
 * Decoding threads: decoding (sharp) and transforming (resizing, augmentation in JavaScript) cost
 * milliseconds per ImageNet-size image, so they run beside the training step. Results come back in
 * request order. Without worker threads (a browser, the package's sources under a test runner,
 * threads: 1) the same code runs inline.
 */
export class DecodePool {
  private readonly idle: import('node:worker_threads').Worker[] = [];
  private readonly waiting: ((w: import('node:worker_threads').Worker) => void)[] = [];
  private nextId = 0;

  private constructor(private readonly workers: import('node:worker_threads').Worker[]) {
    this.idle.push(...workers);
  }

  get threads(): number {
    return this.workers.length;
  }

  static async create(threads: number): Promise<DecodePool> {
    const file = new URL('./decode-worker.js', import.meta.url);
    if (threads <= 1 || typeof process === 'undefined' || file.protocol !== 'file:' || !existsSync(file)) return new DecodePool([]);
    const { Worker } = await import('node:worker_threads');
    const workers = Array.from({ length: threads }, () => new Worker(file));
    for (const w of workers) w.unref();
    return new DecodePool(workers);
  }

  async run(items: DecodeItem[], channels: 1 | 3, transform: TransformSpec): Promise<DecodeResult[]> {
    if (this.workers.length === 0) return processAll(items, channels, transform);
    const worker = this.idle.pop() ?? (await new Promise<import('node:worker_threads').Worker>((resolve) => this.waiting.push(resolve)));
    try {
      const id = this.nextId++;
      return await new Promise<DecodeResult[]>((resolve, reject) => {
        const onMessage = (reply: { id: number; results: DecodeResult[] }) => {
          if (reply.id !== id) return;
          worker.off('message', onMessage);
          worker.off('error', reject);
          resolve(reply.results);
        };
        worker.on('message', onMessage);
        worker.once('error', reject);
        worker.postMessage({ id, items, channels, transform } satisfies DecodeRequest);
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next(worker);
      else this.idle.push(worker);
    }
  }

  /** Splits `items` into chunks over the threads; results in order. */
  async runAll(items: DecodeItem[], channels: 1 | 3, transform: TransformSpec, chunk = 64, onChunk?: (done: number) => void): Promise<DecodeResult[]> {
    const parts: Promise<DecodeResult[]>[] = [];
    let done = 0;
    for (let i = 0; i < items.length; i += chunk) {
      parts.push(
        this.run(items.slice(i, i + chunk), channels, transform).then((r) => {
          done += r.length;
          onChunk?.(done);
          return r;
        }),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
