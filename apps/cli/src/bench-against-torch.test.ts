import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const TINY = ['--depth', '8', '--alpha', '4', '--batch-size', '4', '--steps', '1', '--warmup', '0', '--compare', 'project', '--threads', '1'];
let scratch = '';

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pyramid-torch-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function pyramid(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: scratch });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A stand-in Python that imports "torch" and answers the benchmark with fixed figures, logging each request. */
function fakePython(trainImagesPerSecond: number): string {
  const path = join(scratch, 'python');
  const log = join(scratch, 'requests.log');
  writeFileSync(
    path,
    `#!/bin/sh
if [ "$1" = "-c" ]; then exit 0; fi
printf '%s\\n' "$2" >> ${log}
format=contiguous; case "$2" in *'"channels_last":true'*) format=channels_last;; esac
echo '{"torch":"1.13.0","threads":1,"memoryFormat":"'$format'","params":1,"train":{"msPerStep":1,"imagesPerSecond":${trainImagesPerSecond}},"inference":null,"trainPeakRssBytes":1000}'
`,
  );
  chmodSync(path, 0o755);
  return path;
}

describe('pyramid bench --against torch', () => {
  it('runs PyTorch on the same model, batch and threads in both memory formats and reports the ratios', () => {
    const r = pyramid('bench', ...TINY, '--no-inference', '--against', 'torch', '--torch-python', fakePython(100), '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const requests = readFileSync(join(scratch, 'requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(requests.map((q) => [q.depth, q.alpha, q.bottleneck, q.classes, q.batch, q.threads, q.channels_last])).toEqual([
      [8, 4, false, 10, 4, 1, false],
      [8, 4, false, 10, 4, 1, true],
    ]);
    const project = report.runs[0].train.imagesPerSecond;
    expect(report.against.ratios.map((x: { memoryFormat: string }) => x.memoryFormat)).toEqual(['contiguous', 'channels_last']);
    for (const ratio of report.against.ratios) expect(ratio.train).toBeCloseTo(project / 100, 10);
    expect(report.peakRssBytes).toBeGreaterThan(0);
  });

  it('says how to get PyTorch when the given Python cannot import it', () => {
    const r = pyramid('bench', ...TINY, '--against', 'torch', '--torch-python', join(scratch, 'no-such-python'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`pyramid: error: --torch-python ${join(scratch, 'no-such-python')} cannot import torch`);
  });

  it('refuses a model the PyTorch script does not build, before timing anything', () => {
    const r = pyramid('bench', ...TINY, '--widening', 'multiplicative', '--against', 'torch', '--torch-python', fakePython(1));
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("pyramid: error: --against torch builds the reference code's CIFAR PyramidNets; this model has multiplicative widening (only additive)");
  });

  // Where Debian's python3-torch is installed: the script's network has the project's parameter count.
  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  it.runIf(hasTorch)('builds the same network in PyTorch: the parameter counts agree', () => {
    for (const model of [['--depth', '20', '--alpha', '12'], ['--depth', '29', '--alpha', '24', '--bottleneck']]) {
      const r = pyramid('bench', ...TINY, ...model, '--no-inference', '--against', 'torch', '--json');
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.against.torch.map((t: { params: number }) => t.params)).toEqual([report.model.params, report.model.params]);
    }
  });
});
