import type { TrainEvent } from '@pyramid/train/node';
import { percent } from './output';

export type OutputMode = 'human' | 'quiet' | 'json';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/**
 * Renders training events: a live bar per epoch on a terminal (images/s, loss, accuracy, ETA), a
 * line per epoch, checkpoints and the end; JSON lines with --json; only the end with --quiet.
 */
export class TrainingReporter {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastDraw = 0;
  private epochs = 0;
  private batchSize = 1;
  private barShown = false;

  constructor(private readonly mode: OutputMode) {}

  handle(event: TrainEvent): void {
    if (this.mode === 'json') {
      const { kind } = event;
      if (kind === 'start') {
        const { config, stepsPerEpoch, resumedAt, parameters, init, extended } = event;
        process.stdout.write(`${JSON.stringify({ kind, preset: config.preset, data: config.data.name, epochs: config.recipe.epochs, stepsPerEpoch, resumedAt, parameters, init, extended })}\n`);
      } else if (kind === 'epoch') {
        const { evaluation, ...rest } = event;
        const test = evaluation ? { testLoss: evaluation.loss, top1: evaluation.top1, top5: evaluation.top5, top1Error: evaluation.top1Error, top5Error: evaluation.top5Error } : {};
        process.stdout.write(`${JSON.stringify({ ...rest, ...test })}\n`);
      } else if (kind !== 'evaluating') {
        process.stdout.write(`${JSON.stringify(event)}\n`);
      }
      return;
    }
    if (this.mode === 'quiet' && event.kind !== 'done' && event.kind !== 'stopped') return;
    switch (event.kind) {
      case 'start': {
        this.epochs = event.config.recipe.epochs;
        this.batchSize = event.config.recipe.batchSize;
        const where = event.resumedAt ? `resuming at epoch ${event.resumedAt.epoch + 1}, step ${event.resumedAt.step}` : 'starting';
        this.line(
          `${where}: ${event.config.preset ?? 'custom model'} (${event.parameters.toLocaleString('en-US')} parameters) on ${event.config.data.name} ` +
            `(${event.config.data.trainImages} train / ${event.config.data.testImages} test images), ${this.epochs} epoch${this.epochs === 1 ? '' : 's'} of ${event.stepsPerEpoch} steps, batch ${event.config.recipe.batchSize}`,
        );
        if (event.extended) {
          const { from, to, lr } = event.extended;
          this.line(`extending the run from ${from} to ${to} epochs: the learning-rate schedule is recomputed for ${to} epochs (rate ${lr.toPrecision(3)} where it resumes)`);
        }
        if (event.init) {
          const { source, loaded, reinitialised, skipped } = event.init;
          this.line(
            `initial weights from ${source}: ${loaded.length} tensors loaded` +
              (reinitialised.length ? `; re-initialised (another class count): ${reinitialised.join(', ')}` : '') +
              (skipped.length ? `; skipped (not in this model): ${skipped.join(', ')}` : ''),
          );
        }
        break;
      }
      case 'step': {
        const now = Date.now();
        if (!this.tty || (now - this.lastDraw < 100 && event.stepInEpoch !== event.stepsPerEpoch)) return;
        this.lastDraw = now;
        const fraction = event.stepInEpoch / event.stepsPerEpoch;
        const width = 24;
        const filled = Math.round(fraction * width);
        const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
        const eta = event.imagesPerSecond > 0 ? ((event.stepsPerEpoch - event.stepInEpoch) * this.batchSize) / event.imagesPerSecond : NaN;
        process.stderr.write(
          `\repoch ${event.epoch + 1}/${this.epochs} [${bar}] ${event.stepInEpoch}/${event.stepsPerEpoch} ` +
            `${event.imagesPerSecond.toFixed(1)} img/s  loss ${event.loss.toFixed(4)}  acc ${percent(event.accuracy, 1)}  lr ${event.lr.toPrecision(3)}  ETA ${duration(eta)}\x1b[K`,
        );
        this.barShown = true;
        break;
      }
      case 'evaluating':
        if (this.tty) {
          process.stderr.write(`\revaluating epoch ${event.epoch + 1}: ${event.done}/${event.total} images\x1b[K`);
          this.barShown = true;
        }
        break;
      case 'epoch': {
        const e = event.evaluation;
        const test = e ? `  test loss ${e.loss.toFixed(4)}  top-1 ${percent(e.top1)} (error ${e.top1Error.toFixed(2)}%)  top-5 ${percent(e.top5)}${event.best ? '  best' : ''}` : '';
        this.line(
          `epoch ${event.epoch + 1}/${this.epochs}  train loss ${event.trainLoss.toFixed(4)}  acc ${percent(event.trainAccuracy)}  lr ${event.lr.toPrecision(3)}  ` +
            `${event.imagesPerSecond.toFixed(1)} img/s  ${duration(event.seconds)}${test}`,
        );
        break;
      }
      case 'checkpoint':
        if (event.reason === 'interval') this.line(`checkpoint at step ${event.step}: ${event.path}`);
        break;
      case 'stopped':
        this.line(`stopped after step ${event.step}; checkpoint saved in ${event.checkpoint}`);
        break;
      case 'done':
        this.line(
          `done: ${event.epoch} epoch${event.epoch === 1 ? '' : 's'}, ${event.step} steps` +
            (event.best ? `; best test top-1 ${percent(event.best.top1)} (error ${(100 * (1 - event.best.top1)).toFixed(2)}%) at epoch ${event.best.epoch}` : '') +
            `; checkpoint: ${event.checkpoint}`,
        );
        break;
    }
  }

  private line(text: string): void {
    if (this.barShown && this.tty) process.stderr.write('\r\x1b[K');
    this.barShown = false;
    process.stderr.write(`${text}\n`);
  }
}
