import { join } from 'node:path';
import { inputPreprocessing } from '@pyramid/core';
import { loadCheckpoint } from '@pyramid/pyramidnet/node';
import { evaluate } from '@pyramid/train/node';
import { Option, type Command } from 'commander';
import { type BackendFlags, activateBackend, addBackendOptions } from '../backend';
import { DATA_NAMES, loadData } from '../data';
import { parseInteger } from '../model-options';
import { UsageError, percent, printJson } from '../output';

interface EvalFlags extends BackendFlags {
  checkpoint: string;
  data: string;
  dataDir?: string;
  dataArchive?: string;
  valLabels?: string;
  skipBadImages?: boolean;
  split: 'test' | 'train';
  batchSize: number;
  json?: boolean;
}

export function evalCommand(program: Command): void {
  addBackendOptions(
    program
      .command('eval')
      .description('evaluate a checkpoint: top-1 and top-5 accuracy and error, loss, per-class accuracy, confusion matrix')
      .requiredOption('--checkpoint <dir>', 'a checkpoint folder (e.g. runs/x/checkpoints/best)')
      .requiredOption('--data <name>', `data to evaluate on: a dataset name (${DATA_NAMES.join(', ')}) or an image folder or archive`)
      .option('--data-dir <dir>', 'where the dataset is (see pyramid train --help)')
      .option('--data-archive <file>', 'a CIFAR archive you already have')
      .option('--val-labels <file>', 'imagenet: label file of a flat val/ folder')
      .option('--skip-bad-images', 'image folders: skip images that cannot be decoded')
      .addOption(new Option('--split <which>', 'which part of the data').choices(['test', 'train']).default('test'))
      .option('--batch-size <n>', 'images per batch', parseInteger('--batch-size'), 256)
      .option('--json', 'print JSON: {checkpoint, data, split, images, loss, top1, top5, top1Error, top5Error, perClass, confusion}'),
  ).action(async (flags: EvalFlags) => {
    await activateBackend(flags, true);
    const { model, config } = await loadCheckpoint(flags.checkpoint);
    const { height, width, channels } = config.input.shape;
    const data = await loadData(flags.data, {
      preprocessing: inputPreprocessing(config.input),
      sizeChosen: true,
      dataDir: flags.dataDir,
      archive: flags.dataArchive,
      valLabels: flags.valLabels,
      skipBad: flags.skipBadImages,
      size: { height, width, channels: channels as 1 | 3 },
      quiet: flags.json,
    });
    const dataset = flags.split === 'train' ? data.train : data.test;
    const s = dataset.shape;
    if (s.height !== height || s.width !== width || s.channels !== channels) {
      throw new UsageError(`${join(flags.checkpoint, 'config.json')} expects ${height}x${width}x${channels} images but ${data.name} has ${s.height}x${s.width}x${s.channels}`);
    }
    if (dataset.classNames.length !== config.architecture.classes) {
      throw new UsageError(`the checkpoint has ${config.architecture.classes} classes but ${data.name} has ${dataset.classNames.length}`);
    }
    const tty = Boolean(process.stderr.isTTY) && !flags.json;
    const result = await evaluate(model, dataset, {
      batchSize: flags.batchSize,
      normalization: config.input.normalization,
      onBatch: (done, total) => tty && process.stderr.write(`\revaluating ${done}/${total}\x1b[K`),
    });
    if (tty) process.stderr.write('\r\x1b[K');
    if (flags.json) {
      printJson({ checkpoint: flags.checkpoint, data: data.name, split: flags.split, ...result });
      return;
    }
    process.stdout.write(
      `${data.name} ${flags.split}: ${result.images} images\n` +
        `top-1 accuracy ${percent(result.top1)}  (error ${result.top1Error.toFixed(2)}%)\n` +
        `top-5 accuracy ${percent(result.top5)}  (error ${result.top5Error.toFixed(2)}%)\n` +
        `loss ${result.loss.toFixed(4)}\n`,
    );
    if (result.perClass.length <= 20) {
      const width = Math.max(5, ...result.perClass.map((c) => c.name.length));
      process.stdout.write(`\nper class:\n${result.perClass.map((c) => `  ${c.name.padEnd(width)}  ${percent(c.accuracy).padStart(7)}  of ${c.images}`).join('\n')}\n`);
      const cell = Math.max(4, ...result.confusion.flat().map((v) => String(v).length)) + 1;
      process.stdout.write(`\nconfusion (rows: true class, columns: predicted):\n`);
      process.stdout.write(`  ${''.padEnd(width)}${result.perClass.map((c) => c.name.slice(0, cell - 1).padStart(cell)).join('')}\n`);
      result.confusion.forEach((row, i) => process.stdout.write(`  ${result.perClass[i].name.padEnd(width)}${row.map((v) => String(v).padStart(cell)).join('')}\n`));
    }
  });
}
