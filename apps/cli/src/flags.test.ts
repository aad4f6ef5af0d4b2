import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createProgram } from './cli';
import { applyConfigFile } from './config-file';
import { parseInteger, parseNumber } from './model-options';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'pyramid-flags-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pyramid(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: scratch });
}

function trainCommand() {
  return createProgram().commands.find((c) => c.name() === 'train')!;
}

function configFile(name: string, values: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

describe('numeric flags', () => {
  it('are range-checked with one line naming the flag', () => {
    expect(() => parseInteger('--top', { min: 1 })('0')).toThrow("--top must be an integer at least 1, got '0'");
    expect(() => parseInteger('--port', { min: 0, max: 65535 })('99999')).toThrow("--port must be an integer from 0 to 65535, got '99999'");
    expect(() => parseNumber('--alpha', { above: 0 })('0')).toThrow("--alpha must be a number greater than 0, got '0'");
    expect(() => parseNumber('--test-fraction', { above: 0, below: 1 })('1')).toThrow("--test-fraction must be a number greater than 0 and less than 1, got '1'");
    expect(() => parseInteger('--seed', { min: 0 })('1e30')).toThrow("--seed must be an integer, got '1e30'");
    expect(parseInteger('--port', { min: 0, max: 65535 })('65535')).toBe(65535);
  });

  it('refuse eval --batch-size 0 and -5, predict --top 0 and -3 before anything runs', () => {
    for (const [args, message] of [
      [['eval', '--checkpoint', 'none', '--data', 'mnist-sample', '--batch-size', '0'], "--batch-size must be an integer at least 1, got '0'"],
      [['eval', '--checkpoint', 'none', '--data', 'mnist-sample', '--batch-size', '-5'], "--batch-size must be an integer at least 1, got '-5'"],
      [['predict', '--checkpoint', 'none', 'x.png', '--top', '0'], "--top must be an integer at least 1, got '0'"],
      [['predict', '--checkpoint', 'none', 'x.png', '--top', '-3'], "--top must be an integer at least 1, got '-3'"],
    ] as const) {
      const r = pyramid(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toContain(message);
    }
  });
});

describe('config files', () => {
  it('set --no-bn-decay by bn-decay: false or no-bn-decay: true', () => {
    const a = trainCommand();
    applyConfigFile(a, configFile('a.json', { 'bn-decay': false }));
    expect(a.opts().bnDecay).toBe(false);
    const b = trainCommand();
    applyConfigFile(b, configFile('b.json', { 'no-bn-decay': true }));
    expect(b.opts().bnDecay).toBe(false);
    const c = trainCommand();
    applyConfigFile(c, configFile('c.json', { 'no-bn-decay': false }));
    expect(c.opts().bnDecay).toBe(true);
  });

  it('range-check values as the flags do, naming the file', () => {
    const file = configFile('d.json', { 'batch-size': 0 });
    expect(() => applyConfigFile(trainCommand(), file)).toThrow(`${file}: --batch-size must be an integer at least 1, got '0'`);
  });
});

describe('pyramid train on folders it cannot use', () => {
  it('names a run.json of something else and a --run that is a file, in one line', () => {
    const foreign = join(scratch, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'run.json'), JSON.stringify({ format: 'something-else' }));
    const resumed = pyramid('train', '--resume', foreign);
    expect(resumed.status).toBe(1);
    expect(resumed.stderr).toBe(`pyramid: error: ${join(foreign, 'run.json')} is not a PyramidNet-TS run (format "something-else")\n`);
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'mine');
    const started = pyramid('train', '--data', 'mnist-sample', '--dataset', 'mnist', '--depth', '8', '--alpha', '4', '--run', file);
    expect(started.status).toBe(1);
    expect(started.stderr).toBe(`pyramid: error: ${file} is a file, not a folder; choose another --run\n`);
  });
});

describe('pyramid bench --out', () => {
  it('refuses a report it cannot write before running the benchmark', () => {
    const missing = join(scratch, 'no-such-folder', 'report.json');
    const r = pyramid('bench', '--preset', 'pyramidnet20-a48-cifar10', '--out', missing);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`pyramid: error: --out ${missing}: the folder ${join(scratch, 'no-such-folder')} does not exist\n`);
    const r2 = pyramid('bench', '--preset', 'pyramidnet20-a48-cifar10', '--out', scratch);
    expect(r2.stderr).toBe(`pyramid: error: --out ${scratch}: a folder, not a file\n`);
  });
});
