import { writeFileAtomically } from '@pyramid/core/node';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernels } from '@pyramid/core';
import { PyramidNet, summarize } from '@pyramid/pyramidnet';
import { type BenchmarkResult, type ConvKernelResult, benchmarkConv, benchmarkModel, convShapes } from '@pyramid/train';
import { Option, type Command } from 'commander';
import { type BackendFlags, activateBackend, addBackendOptions } from '../backend';
import { type ModelFlags, addModelOptions, modelFromFlags, parseInteger } from '../model-options';
import { UsageError, assertWritable, printJson } from '../output';
import { type TorchRun, findTorchPython, runTorchBaseline, torchSupports } from '../torch-baseline';

interface BenchFlags extends ModelFlags, Omit<BackendFlags, 'kernels'> {
  batchSize: number;
  steps: number;
  warmup: number;
  compare: 'project' | 'stock' | 'both';
  stockBatchSize: number;
  stockSteps: number;
  convs?: boolean;
  inference: boolean;
  compile: boolean;
  json?: boolean;
  out?: string;
  against?: 'torch';
  torchPython?: string;
}

interface Run extends BenchmarkResult {
  kernels: BenchmarkResult['kernels'];
  kernelSet: 'project' | 'stock';
  backend: string;
  detail: string;
}

export function benchCommand(program: Command): void {
  const command = program
    .command('bench')
    .description("training and inference throughput, the project's kernels and tfjs's stock kernels side by side in one process")
    .option('--batch-size <n>', 'images per step', parseInteger('--batch-size', { min: 1 }), 128)
    .option('--steps <n>', 'timed steps', parseInteger('--steps', { min: 1 }), 3)
    .option('--warmup <n>', 'untimed steps first', parseInteger('--warmup', { min: 0 }), 1)
    .addOption(new Option('--compare <which>', 'which kernels to time').choices(['project', 'stock', 'both']).default('both'))
    .option('--stock-batch-size <n>', 'batch size for the stock kernels (they are slow; images/s are comparable)', parseInteger('--stock-batch-size', { min: 1 }), 8)
    .option('--stock-steps <n>', 'timed steps for the stock kernels', parseInteger('--stock-steps', { min: 1 }), 1)
    .option('--convs', "also time every convolution shape of the model: forward, input and filter gradients")
    .option('--no-inference', 'skip inference timing')
    .option('--no-compile', 'run the op-by-op step even where the backend compiles the whole step (the reference it is checked against)')
    .addOption(new Option('--against <other>', "also time PyTorch (Debian's python3-torch) on the same model, batch and threads, in both memory formats, and print the ratios").choices(['torch']))
    .option('--torch-python <path>', 'the Python that imports torch (default: /usr/bin/python3, then python3)')
    .option('--out <file>', 'also write the JSON report to this file')
    .option('--json', 'print the JSON report: {date, machine, model, runs: [{kernelSet, train, inference, peakBytes, kernels}], speedup, convs}');
  addBackendOptions(addModelOptions(command));
  command.action(async (flags: BenchFlags) => {
    // A report that cannot be written is found out before the benchmark runs, not after.
    if (flags.out) assertWritable(flags.out, '--out');
    const choice = modelFromFlags({ preset: 'pyramidnet110-a48-cifar10', ...flags })!;
    // Refuse before anything slow runs.
    const torchPython = flags.against === 'torch' ? findTorchPython(flags.torchPython) : null;
    if (torchPython) {
      const unsupported = torchSupports(new PyramidNet(choice.architecture).architecture);
      if (unsupported) throw new UsageError(`--against torch builds the reference code's CIFAR PyramidNets; this model has ${unsupported}`);
    }
    const runs: Run[] = [];
    let convs: ConvKernelResult[] | null = null;
    let peakGflops: number | null = null;
    const log = (text: string) => !flags.json && process.stderr.write(`${text}\n`);
    const sets: ('project' | 'stock')[] = flags.compare === 'both' ? ['project', 'stock'] : [flags.compare];
    for (const kernelSet of sets) {
      const info = await activateBackend({ ...flags, kernels: kernelSet }, true);
      if (flags.convs && info.name !== 'cpu') throw new UsageError(`--convs times kernels that finish when they return, the cpu backend's; '${info.name}' queues its work`);
      const model = new PyramidNet(choice.architecture);
      const stock = kernelSet === 'stock';
      const batchSize = stock && flags.compare === 'both' ? flags.stockBatchSize : flags.batchSize;
      log(`${kernelSet} kernels (${info.detail}): batch ${batchSize} ...`);
      const result = await benchmarkModel(model, {
        batchSize,
        steps: stock && flags.compare === 'both' ? flags.stockSteps : flags.steps,
        warmupSteps: stock ? Math.min(flags.warmup, 1) : flags.warmup,
        inference: flags.inference,
        compile: flags.compile,
      });
      runs.push({ ...result, kernelSet, backend: info.name, detail: info.detail });
      const { stepMode } = result;
      if (stepMode.compiled) log(`  the step is compiled: ${stepMode.dispatchesPerStep} dispatches, replayed`);
      else if (!/op by op|stock/.test(stepMode.reason)) log(`  steps run op by op: ${stepMode.reason}`);
      if (result.convolutions) {
        const { forward, inputGrad, filterGrad } = result.convolutions;
        const rate = (r: { ms: number; tflops: number }) => `${r.tflops.toFixed(3)} TFLOP/s (${r.ms.toFixed(1)} ms)`;
        log(`  convolutions, each call timed: forward ${rate(forward)}, input gradient ${rate(inputGrad)}, filter gradient ${rate(filterGrad)}`);
      }
      log(
        `  train ${result.train.imagesPerSecond.toFixed(2)} img/s, ${result.train.msPerStep.toFixed(0)} ms/step, ${result.train.gflops.toFixed(2)} GFLOP/s` +
          (result.inference ? `; inference ${result.inference.imagesPerSecond.toFixed(1)} img/s, ${result.inference.gflops.toFixed(2)} GFLOP/s` : ''),
      );
      if (flags.convs && kernelSet === 'project') {
        convs = convShapes(model, flags.batchSize).map((shape) => benchmarkConv(shape));
        peakGflops = await measurePeak();
      }
      model.dispose();
    }
    // The project's peak before PyTorch runs in its own processes (each reports its own peak).
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    const torch: TorchRun[] = [];
    if (torchPython) {
      // The CPU backend's own default: PYRAMID_CPU_THREADS, else every core.
      const threads = flags.threads ?? (Number(process.env.PYRAMID_CPU_THREADS) || cpus().length);
      for (const channelsLast of [false, true]) {
        log(`torch (${channelsLast ? 'channels_last' : 'default memory format'}, ${threads} threads): batch ${flags.batchSize} ...`);
        const run = runTorchBaseline(torchPython, new PyramidNet(choice.architecture).architecture, {
          batch: flags.batchSize, steps: flags.steps, warmup: flags.warmup, threads, channelsLast, inference: flags.inference,
        });
        torch.push(run);
        log(`  train ${run.train.imagesPerSecond.toFixed(2)} img/s` + (run.inference ? `; inference ${run.inference.imagesPerSecond.toFixed(1)} img/s` : '') + `; peak RSS ${(run.trainPeakRssBytes / 2 ** 30).toFixed(2)} GiB`);
      }
    }
    const model = new PyramidNet(choice.architecture);
    const summary = summarize(model);
    const project = runs.find((r) => r.kernelSet === 'project');
    const stock = runs.find((r) => r.kernelSet === 'stock');
    const report = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, tfjs: tf.version_core, platform: `${process.platform}-${process.arch}`, peakGflops },
      model: { preset: choice.preset?.name ?? null, architecture: choice.architecture, params: summary.params, macsPerImage: summary.macs },
      runs,
      speedup:
        project && stock
          ? { train: project.train.imagesPerSecond / stock.train.imagesPerSecond, inference: project.inference && stock.inference ? project.inference.imagesPerSecond / stock.inference.imagesPerSecond : null }
          : null,
      convs,
      peakRssBytes,
      against: torchPython && project ? againstTorch(project, torch) : null,
    };
    model.dispose();
    if (flags.out) await writeFileAtomically(flags.out, `${JSON.stringify(report, null, 2)}\n`);
    if (flags.json) {
      printJson(report);
      return;
    }
    if (report.speedup) {
      process.stdout.write(`project / stock: training ${report.speedup.train.toFixed(1)}x` + (report.speedup.inference ? `, inference ${report.speedup.inference.toFixed(1)}x` : '') + '\n');
    }
    if (report.against) {
      for (const r of report.against.ratios) {
        process.stdout.write(`project / torch ${r.memoryFormat}: training ${r.train.toFixed(2)}x` + (r.inference ? `, inference ${r.inference.toFixed(2)}x` : '') + '\n');
      }
    }
    if (convs) {
      const ofPeak = (g: number) => (peakGflops ? ` (${((100 * g) / peakGflops).toFixed(0)}%)` : '');
      if (peakGflops) process.stdout.write(`machine peak (multiply-adds on every thread in use): ${peakGflops.toFixed(0)} GFLOP/s\n`);
      process.stdout.write(`convolutions (GFLOP/s${peakGflops ? ', % of peak' : ''}): shape  forward  input-grad  filter-grad\n`);
      for (const c of convs) {
        process.stdout.write(
          `  ${c.batch}x${c.height}x${c.width}x${c.inChannels} -> ${c.outChannels} k${c.kernel}/s${c.stride}  ${c.forwardGflops.toFixed(1)}${ofPeak(c.forwardGflops)}  ${c.inputGradGflops.toFixed(1)}${ofPeak(c.inputGradGflops)}  ${c.filterGradGflops.toFixed(1)}${ofPeak(c.filterGradGflops)}\n`,
        );
      }
    }
  });
}

/** The project's throughput over PyTorch's, per memory format PyTorch ran in. */
function againstTorch(project: Run, torch: TorchRun[]) {
  return {
    torch,
    ratios: torch.map((t) => ({
      memoryFormat: t.memoryFormat,
      train: project.train.imagesPerSecond / t.train.imagesPerSecond,
      inference: project.inference && t.inference ? project.inference.imagesPerSecond / t.inference.imagesPerSecond : null,
    })),
  };
}

/** The multiply-add peak of the threads the native kernels use, where they are loaded. */
async function measurePeak(): Promise<number | null> {
  const load = await nativeKernels();
  return load.kernels ? load.kernels.peakGflops(1) : null;
}
