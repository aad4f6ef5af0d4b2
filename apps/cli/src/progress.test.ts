import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainEvent } from '@pyramid/train/node';
import { afterAll, describe, expect, it } from 'vitest';
import { type ProgressStream, TrainingReporter, fitSegments } from './progress';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-progress-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Collects what the reporter writes, as a terminal of `columns` or as a pipe. */
function capture(tty: boolean, columns?: number): ProgressStream & { text: string } {
  return {
    text: '',
    isTTY: tty,
    columns,
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

const start = {
  kind: 'start',
  config: { preset: 'pyramidnet272-a200-imagenet', data: { name: 'imagenet', trainImages: 1281167, testImages: 50000 }, recipe: { epochs: 300, batchSize: 128 } },
  stepsPerEpoch: 10009,
  resumedAt: null,
  parameters: 26_000_000,
} as unknown as TrainEvent;

function step(stepInEpoch: number): TrainEvent {
  return { kind: 'step', epoch: 122, step: 122 * 10009 + stepInEpoch, stepInEpoch, stepsPerEpoch: 10009, loss: 1.23456, accuracy: 0.6789, lr: 0.0123456, imagesPerSecond: 1234.56 };
}

/** What a terminal shows for each redraw: the text after each carriage return, escapes removed. */
function redraws(output: string): string[] {
  return output
    .split(/[\r\n]/)
    .map((s) => s.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g'), ''))
    .filter((s) => s.length > 0);
}

describe('training progress', () => {
  it('keeps the most useful parts of a bar line that does not fit, and cuts what still overflows', () => {
    const segments = [
      { text: 'epoch 1/3', drop: 0 },
      { text: '[####]', drop: 2 },
      { text: 'loss 1.0', drop: 0 },
      { text: 'lr 0.1', drop: 5 },
    ];
    expect(fitSegments(segments, 80)).toBe('epoch 1/3  [####]  loss 1.0  lr 0.1');
    expect(fitSegments(segments, 30)).toBe('epoch 1/3  [####]  loss 1.0');
    expect(fitSegments(segments, 21)).toBe('epoch 1/3  loss 1.0');
    expect(fitSegments(segments, 10)).toBe('epoch 1/3');
  });

  it('redraws the bar within an 80-column terminal, with the loss and the ETA kept', () => {
    const out = capture(true, 80);
    let clock = 0;
    const reporter = new TrainingReporter('human', { stream: out, now: () => (clock += 1000) });
    reporter.handle(start);
    for (const k of [1, 500, 10009]) reporter.handle(step(k));
    const bars = redraws(out.text).filter((line) => line.startsWith('epoch 123/300'));
    expect(bars).toHaveLength(3);
    for (const bar of bars) {
      expect(bar.length).toBeLessThanOrEqual(79);
      expect(bar).toMatch(/loss 1\.2346/);
      expect(bar).toMatch(/ETA /);
    }
    // A wide terminal shows everything.
    const wide = capture(true, 200);
    const wideReporter = new TrainingReporter('human', { stream: wide });
    wideReporter.handle(start);
    wideReporter.handle(step(500));
    expect(redraws(wide.text)[1]).toMatch(/^epoch 123\/300 {2}\[#*\.*\] {2}500\/10009 {2}1234\.6 img\/s {2}loss 1\.2346 {2}acc 67\.9% {2}lr 0\.0123 {2}ETA /);
  });

  it('without a terminal, writes a plain line every interval and never a carriage return', () => {
    const out = capture(false);
    let clock = 0;
    const reporter = new TrainingReporter('human', { stream: out, plainIntervalSeconds: 30, now: () => clock });
    reporter.handle(start);
    for (let k = 1; k <= 100; k++) {
      clock = k * 1000;
      reporter.handle(step(k));
    }
    expect(out.text).not.toContain('\r');
    const lines = out.text.trim().split('\n');
    // The start line, then steps at 30, 60 and 90 seconds.
    expect(lines.slice(1).map((l) => /step (\d+)\/10009/.exec(l)?.[1])).toEqual(['30', '60', '90']);
    expect(lines[1]).toMatch(/^epoch 123\/300 {2}step 30\/10009 {2}loss 1\.2346 {2}acc 67\.9% {2}lr 0\.0123 {2}1234\.6 img\/s {2}ETA /);
  });

  // A real pseudo-terminal, as a user's: `script` runs the CLI in one sized to 80 columns.
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  it.runIf(existsSync(bin) && script.status === 0)('fits every redraw of a real training run in an 80-column pseudo-terminal', () => {
    const run = join(scratch, 'pty-run');
    const command = `stty cols 80 rows 24; exec '${process.execPath}' '${bin}' train --preset pyramidnet8-a16-mnist --data mnist-sample --test-fraction 0.95 --eval-every 2 --epochs 1 --batch-size 10 --run '${run}'`;
    const result = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, PYRAMID_CPU_THREADS: '2' }, timeout: 300_000 });
    expect(result.status, result.stdout).toBe(0);
    const bars = redraws(result.stdout).filter((line) => /^epoch 1\/1 .*\d+\/\d+/.test(line) && line.includes('ETA'));
    expect(bars.length).toBeGreaterThan(0);
    for (const bar of bars) expect(bar.length).toBeLessThanOrEqual(79);
  });
});
