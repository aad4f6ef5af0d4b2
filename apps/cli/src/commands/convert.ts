import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { findDataset } from '@pyramid/core';
import { writeFileAtomically } from '@pyramid/core/node';
import { ONNX_OPSET, type OnnxInputLayout, PyramidNet, type TorchFileInfo, exportOnnx, exportPytorchWeights, importStateDict, readPytorchStateDict, transferWeights } from '@pyramid/pyramidnet';
import { loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
import { type Command, Option } from 'commander';
import { type ModelFlags, addModelOptions, modelFromFlags } from '../model-options';
import { UsageError } from '../output';

export function convertCommands(program: Command): void {
  addModelOptions(
    program
      .command('import')
      .description('turn a state_dict of the reference PyTorch PyramidNet (torch.save file or safetensors) into a checkpoint')
      .argument('<file>', ".pt/.pth/.pth.tar written by torch.save (a state_dict, the reference code's checkpoint, a DataParallel model's), or safetensors")
      .requiredOption('--out <dir>', 'checkpoint folder to create')
      .option('--class-names <list>', 'comma-separated class names'),
  ).action(async (file: string, flags: ModelFlags & { out: string; classNames?: string }) => {
    const choice = modelFromFlags(flags)!;
    if (existsSync(flags.out)) throw new UsageError(`${flags.out} already exists; refusing to overwrite it`);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
    const model = new PyramidNet(choice.architecture);
    const stateDict = readPytorchStateDict(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
    const found = 'info' in stateDict ? describeTorchFile(stateDict.info as TorchFileInfo) : '';
    if (found) process.stdout.write(`${file}: ${found}\n`);
    const classes = model.architecture.classes;
    const fileClasses = stateDict.tensors.get('fc.weight')?.shape[0];
    if (fileClasses !== undefined && fileClasses !== classes) {
      // Another class count is a new head for fine-tuning, but only when asked for.
      if (flags.classes === undefined) {
        model.dispose();
        throw new UsageError(`${file} has a ${fileClasses}-class head but the model has ${classes} classes: give --classes ${fileClasses}, or --classes ${classes} to re-initialise the head`);
      }
      const { reinitialised, skipped } = transferWeights(model, stateDict, 'pytorch', file);
      process.stdout.write(`re-initialised ${reinitialised.join(', ')} for ${classes} classes (the file's head has ${fileClasses})${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}\n`);
    } else {
      importStateDict(model, stateDict, 'pytorch', file);
    }
    // A state_dict carries no input description: take the dataset's customary normalisation.
    const dataset = findDataset(choice.preset?.dataset ?? flags.dataset ?? '');
    const classNames = flags.classNames?.split(',') ?? (dataset?.classes === model.architecture.classes ? dataset.classNames ?? undefined : undefined);
    await saveCheckpoint(flags.out, model, { classNames, normalization: dataset?.normalization, preset: choice.preset?.name });
    process.stdout.write(`imported ${file} into ${flags.out} (${model.parameterCount().toLocaleString('en-US')} parameters)\n`);
  });

  program
    .command('export')
    .description('write a checkpoint as a state_dict of the reference PyTorch PyramidNet (a torch.save file or safetensors), or as an ONNX inference graph')
    .requiredOption('--checkpoint <dir>', 'checkpoint folder')
    .requiredOption('--out <file>', 'file to create')
    .addOption(new Option('--format <format>', 'what to write (default: torch for .pt/.pth, onnx for .onnx, else safetensors)').choices(['torch', 'safetensors', 'onnx']))
    .addOption(
      new Option('--input-layout <layout>', 'onnx: the input as torch.onnx.export gives it (normalised float32 NCHW) or raw pixels (uint8 NHWC)')
        .choices(['nchw-float32', 'nhwc-uint8'])
        .default('nchw-float32'),
    )
    .action(async (flags: { checkpoint: string; out: string; format?: 'torch' | 'safetensors' | 'onnx'; inputLayout: OnnxInputLayout }) => {
      if (existsSync(flags.out)) throw new UsageError(`${flags.out} already exists; refusing to overwrite it`);
      const format = flags.format ?? (/\.(pt|pth)$/i.test(flags.out) ? 'torch' : /\.onnx$/i.test(flags.out) ? 'onnx' : 'safetensors');
      const { model, config } = await loadCheckpoint(flags.checkpoint);
      if (format === 'onnx') {
        await writeFileAtomically(flags.out, exportOnnx(model, config.input, { inputLayout: flags.inputLayout }));
        const { height, width, channels } = model.architecture.input;
        const shape = flags.inputLayout === 'nhwc-uint8' ? `uint8 [N, ${height}, ${width}, ${channels}] pixels` : `float32 [N, ${channels}, ${height}, ${width}], normalised`;
        process.stdout.write(`exported ${flags.checkpoint} to ${flags.out} (ONNX opset ${ONNX_OPSET}): input ${shape}, output logits [N, ${model.architecture.classes}]\n`);
        return;
      }
      await writeFileAtomically(flags.out, await exportPytorchWeights(model, format));
      const load = format === 'torch' ? `torch.load('${flags.out}', weights_only=True)` : `safetensors.torch.load_file('${flags.out}')`;
      process.stdout.write(`exported ${flags.checkpoint} to ${flags.out}; in PyTorch: model.load_state_dict(${load})\n`);
    });
}

/** What a torch.save file held besides the state_dict, in a line; '' for a plain state_dict. */
export function describeTorchFile(info: TorchFileInfo): string {
  const parts: string[] = [];
  if (info.entry) {
    const extras = Object.entries(info.extras).map(([k, v]) => `${k} ${v}`).join(', ');
    parts.push(`read its '${info.entry}' entry${extras ? ` (${extras})` : ''}`);
  }
  if (info.dataParallel) parts.push("removed DataParallel's 'module.' prefixes");
  return parts.join('; ');
}
