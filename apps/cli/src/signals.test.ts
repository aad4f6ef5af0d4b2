import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '@pyramid/pyramidnet/node';
import { afterAll, describe, expect, it } from 'vitest';

// Interruptions of the built CLI in child processes: Ctrl-C (SIGINT), SIGKILL in the middle of
// checkpoint writes, a diverging loss, and options from a config file.
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-signals-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const env = { ...process.env, PYRAMID_CPU_THREADS: '2' };
const SMALL = ['--preset', 'pyramidnet8-a16-mnist', '--data', 'mnist-sample', '--test-fraction', '0.9', '--batch-size', '20'];

function start(args: string[]): { child: ChildProcess; output: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: scratch, env });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, done };
}

async function untilStep(run: ReturnType<typeof start>, dir: string, step: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const file = join(dir, 'metrics.jsonl');
    if (existsSync(file) && readFileSync(file, 'utf8').split('\n').filter(Boolean).length >= step) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no step ${step} after 60 s: ${run.output()}`);
}

describe('interrupting pyramid train', () => {
  it('stops at the end of a step on SIGINT, saves a checkpoint, says how to resume, and resumes', async () => {
    const dir = join(scratch, 'sigint');
    const run = start(['train', ...SMALL, '--epochs', '1', '--run', dir]);
    await untilStep(run, dir, 3);
    run.child.kill('SIGINT');
    expect(await run.done).toBe(130);
    expect(run.output()).toMatch(/SIGINT: stopping after this step and saving a checkpoint/);
    expect(run.output()).toContain(`resume with: pyramid train --resume ${dir}`);
    const state = JSON.parse(readFileSync(join(dir, 'checkpoints', 'last', 'state.json'), 'utf8'));
    expect(state.step).toBeGreaterThanOrEqual(3);
    const resumed = spawnSync(process.execPath, [bin, 'train', '--resume', dir, '--quiet'], { cwd: scratch, env, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'checkpoints', 'last', 'state.json'), 'utf8')).finished).toBe(true);
  });

  it('leaves a loadable last checkpoint whenever the process is killed, and resumes to the weights of an uninterrupted run', async () => {
    const dir = join(scratch, 'killed');
    const args = ['--epochs', '1', '--checkpoint-every', '1'];
    let first = true;
    for (const delay of [700, 1300, 450, 2100, 900]) {
      const run = start(first ? ['train', ...SMALL, ...args, '--run', dir] : ['train', '--resume', dir]);
      first = false;
      await untilStep(run, dir, 2);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      await run.done;
      // Whatever the moment, 'last' is a whole checkpoint of the run's model: it loads (every
      // tensor checked against the architecture) and its state parses.
      const last = join(dir, 'checkpoints', 'last');
      const { model, config } = await loadCheckpoint(last);
      expect(config.architecture).toEqual(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).architecture);
      expect(JSON.parse(readFileSync(join(last, 'state.json'), 'utf8')).step).toBeGreaterThan(0);
      model.dispose();
    }
    const finished = spawnSync(process.execPath, [bin, 'train', '--resume', dir, '--quiet'], { cwd: scratch, env, encoding: 'utf8' });
    expect(finished.status, finished.stderr).toBe(0);
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => !f.includes('.tmp-') && !f.includes('.old-')).sort()).toEqual(['best', 'last']);

    // The same run without interruptions, computed here: five kills later, the weights match it bit for bit.
    const straightDir = join(scratch, 'straight');
    const straight = spawnSync(process.execPath, [bin, 'train', ...SMALL, ...args, '--run', straightDir, '--quiet'], { cwd: scratch, env, encoding: 'utf8' });
    expect(straight.status, straight.stderr).toBe(0);
    const weights = async (run: string) => {
      const { model } = await loadCheckpoint(join(run, 'checkpoints', 'last'));
      const values = model.namedTensors().map((t) => [t.name, Array.from(t.variable.dataSync())] as const);
      model.dispose();
      return values;
    };
    expect(await weights(dir)).toEqual(await weights(straightDir));
  });

  it('stops on a diverging loss with one line naming the step', () => {
    const r = spawnSync(process.execPath, [bin, 'train', ...SMALL, '--epochs', '1', '--lr', '1e30', '--run', join(scratch, 'nan'), '--quiet'], { cwd: scratch, env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pyramid: error: loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch 1\); the run stopped without saving it/m);
  });

  it('reads options from a YAML file, flags on the command line winning', () => {
    const config = join(scratch, 'run.yaml');
    writeFileSync(config, 'preset: pyramidnet8-a16-mnist\ndata: mnist-sample\ntest-fraction: 0.9\nbatch-size: 100\nepochs: 5\nlr: 0.05\nschedule: constant\n');
    const dir = join(scratch, 'from-config');
    const r = spawnSync(process.execPath, [bin, 'train', '--config', config, '--epochs', '1', '--run', dir, '--quiet'], { cwd: scratch, env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    expect([run.recipe.epochs, run.recipe.batchSize, run.recipe.lr, run.recipe.schedule.type]).toEqual([1, 100, 0.05, 'constant']);
    writeFileSync(config, 'preset: pyramidnet8-a16-mnist\nbatch-sise: 100\n');
    const bad = spawnSync(process.execPath, [bin, 'train', '--config', config, '--data', 'mnist-sample'], { cwd: scratch, env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`pyramid: error: ${config}: unknown option 'batch-sise' for pyramid train\n`);
  });
});
