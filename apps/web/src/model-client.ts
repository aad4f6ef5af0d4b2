import type { ModelRequest, Replies, StepProgress, WorkerMessage } from './model-protocol';

/**
 * The page's side of its model worker: one promise per request, progress by callback. A worker
 * that fails (its script would not load, say) fails every request waiting on it, with its reason.
 */
export class ModelClient {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (reply: never) => void; reject: (error: Error) => void; progress?: (p: StepProgress) => void }>();

  constructor() {
    // Vite bundles the worker as its own ES module chunk (vite.config.ts: worker.format).
    this.worker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module', name: 'pyramid-model' });
    this.worker.onmessage = ({ data }: MessageEvent<WorkerMessage>) => {
      const waiting = this.pending.get(data.id);
      if (!waiting) return;
      if ('progress' in data) {
        waiting.progress?.(data.progress);
        return;
      }
      this.pending.delete(data.id);
      if ('error' in data) waiting.reject(new Error(data.error));
      else waiting.resolve(data.reply as never);
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`the model worker failed: ${event.message || 'its script did not load'}`);
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
  }

  request<K extends ModelRequest['kind']>(request: Extract<ModelRequest, { kind: K }>, options: { transfer?: Transferable[]; progress?: (p: StepProgress) => void } = {}): Promise<Replies[K]> {
    const id = this.next++;
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (reply: never) => void, reject, progress: options.progress });
      this.worker.postMessage({ id, request }, options.transfer ?? []);
    });
  }
}
