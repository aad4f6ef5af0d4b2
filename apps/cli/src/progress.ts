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

/** Where the reporter writes: standard error, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ReporterOptions {
  stream?: ProgressStream;
  /** Without a terminal, a plain progress line at most this often (seconds). */
  plainIntervalSeconds?: number;
  now?: () => number;
}

/** A progress bar's parts in display order; `drop` ranks what goes first when the line is too wide. */
interface Segment {
  text: string;
  drop: number;
}

/** Joins the segments that fit in `columns` (the terminal's last column left free: some wrap there). */
export function fitSegments(segments: Segment[], columns: number): string {
  const room = Math.max(columns - 1, 1);
  const kept = [...segments];
  const line = () => kept.map((s) => s.text).join('  ');
  while (line().length > room && kept.some((s) => s.drop > 0)) {
    const worst = kept.reduce((a, b) => (b.drop > a.drop ? b : a));
    kept.splice(kept.indexOf(worst), 1);
  }
  const text = line();
  return text.length > room ? text.slice(0, room) : text;
}

/**
 * Renders training events: on a terminal a live bar per epoch (images/s, loss, accuracy, ETA) cut
 * to the terminal's width, without one a plain progress line every so often; a line per epoch,
 * checkpoints and the end; JSON lines with --json; only the end with --quiet.
 */
export class TrainingReporter {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly plainIntervalMs: number;
  private readonly now: () => number;
  private lastDraw = 0;
  private lastPlain = 0;
  private epochs = 0;
  private batchSize = 1;
  private barShown = false;

  constructor(
    private readonly mode: OutputMode,
    options: ReporterOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.plainIntervalMs = (options.plainIntervalSeconds ?? 30) * 1000;
    this.now = options.now ?? Date.now;
    this.lastPlain = this.now();
  }

  handle(event: TrainEvent): void {
    if (this.mode === 'json') {
      const { kind } = event;
      if (kind === 'start') {
        const { config, stepsPerEpoch, resumedAt, parameters, init, extended, stepMode } = event;
        process.stdout.write(`${JSON.stringify({ kind, preset: config.preset, data: config.data.name, epochs: config.recipe.epochs, stepsPerEpoch, resumedAt, parameters, init, extended, stepMode })}\n`);
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
        if (event.stepMode && !event.stepMode.compiled && !/op by op|no backend/.test(event.stepMode.reason)) {
          this.line(`steps run op by op: ${event.stepMode.reason}`);
        }
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
        const now = this.now();
        const last = event.stepInEpoch === event.stepsPerEpoch;
        const eta = event.imagesPerSecond > 0 ? ((event.stepsPerEpoch - event.stepInEpoch) * this.batchSize) / event.imagesPerSecond : NaN;
        const epoch = { text: `epoch ${event.epoch + 1}/${this.epochs}`, drop: 0 };
        const count = { text: `${event.stepInEpoch}/${event.stepsPerEpoch}`, drop: 0 };
        const speed = { text: `${event.imagesPerSecond.toFixed(1)} img/s`, drop: 3 };
        const loss = { text: `loss ${event.loss.toFixed(4)}`, drop: 0 };
        const accuracy = { text: `acc ${percent(event.accuracy, 1)}`, drop: 4 };
        const lr = { text: `lr ${event.lr.toPrecision(3)}`, drop: 5 };
        const remaining = { text: `ETA ${duration(eta)}`, drop: 1 };
        if (!this.tty) {
          // Logs and pipes get a plain line now and then instead of a bar they cannot redraw.
          if (now - this.lastPlain < this.plainIntervalMs) return;
          this.lastPlain = now;
          this.stream.write(`${[epoch, { text: `step ${count.text}`, drop: 0 }, loss, accuracy, lr, speed, remaining].map((s) => s.text).join('  ')}\n`);
          return;
        }
        if (now - this.lastDraw < 100 && !last) return;
        this.lastDraw = now;
        const width = 24;
        const filled = Math.round((event.stepInEpoch / event.stepsPerEpoch) * width);
        const bar = { text: `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, drop: 2 };
        const columns = this.stream.columns && this.stream.columns > 0 ? this.stream.columns : 80;
        this.stream.write(`\r${fitSegments([epoch, bar, count, speed, loss, accuracy, lr, remaining], columns)}\x1b[K`);
        this.barShown = true;
        break;
      }
      case 'evaluating':
        if (this.tty) {
          this.stream.write(`\revaluating epoch ${event.epoch + 1}: ${event.done}/${event.total} images\x1b[K`);
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
      case 'recovered':
        for (const change of event.changes) this.line(`recovered after a crash: ${change}`);
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
    if (this.barShown && this.tty) this.stream.write('\r\x1b[K');
    this.barShown = false;
    this.lastPlain = this.now();
    this.stream.write(`${text}\n`);
  }
}
