import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { findDataset } from '@pyramid/core';
import { writeFileAtomically } from '@pyramid/core/node';
import { ONNX_OPSET, type OnnxInputLayout, PyramidNet, exportOnnx, exportPytorchWeights, importPytorchWeights } from '@pyramid/pyramidnet';
import { loadCheckpoint, saveCheckpoint } from '@pyramid/pyramidnet/node';
import { type Command, Option } from 'commander';
import { type ModelFlags, addModelOptions, modelFromFlags } from '../model-options';
import { UsageError } from '../output';

export function convertCommands(program: Command): void {
  addModelOptions(
    program
      .command('import')
      .description('turn a state_dict of the reference PyTorch PyramidNet (saved as safetensors) into a checkpoint')
      .argument('<file>', 'safetensors file: safetensors.torch.save_file(model.state_dict(), file)')
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
    importPytorchWeights(model, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
    // A state_dict carries no input description: take the dataset's customary normalisation.
    const dataset = findDataset(choice.preset?.dataset ?? flags.dataset ?? '');
    const classNames = flags.classNames?.split(',') ?? (dataset?.classes === model.architecture.classes ? dataset.classNames ?? undefined : undefined);
    await saveCheckpoint(flags.out, model, { classNames, normalization: dataset?.normalization, preset: choice.preset?.name });
    process.stdout.write(`imported ${file} into ${flags.out} (${model.parameterCount().toLocaleString('en-US')} parameters)\n`);
  });

  program
    .command('export')
    .description('write a checkpoint as a state_dict of the reference PyTorch PyramidNet (safetensors), or as an ONNX inference graph')
    .requiredOption('--checkpoint <dir>', 'checkpoint folder')
    .requiredOption('--out <file>', 'file to create')
    .addOption(new Option('--format <format>', 'what to write').choices(['safetensors', 'onnx']).default('safetensors'))
    .addOption(
      new Option('--input-layout <layout>', 'onnx: the input as torch.onnx.export gives it (normalised float32 NCHW) or raw pixels (uint8 NHWC)')
        .choices(['nchw-float32', 'nhwc-uint8'])
        .default('nchw-float32'),
    )
    .action(async (flags: { checkpoint: string; out: string; format: 'safetensors' | 'onnx'; inputLayout: OnnxInputLayout }) => {
      if (existsSync(flags.out)) throw new UsageError(`${flags.out} already exists; refusing to overwrite it`);
      const { model, config } = await loadCheckpoint(flags.checkpoint);
      if (flags.format === 'onnx') {
        await writeFileAtomically(flags.out, exportOnnx(model, config.input, { inputLayout: flags.inputLayout }));
        const { height, width, channels } = model.architecture.input;
        const shape = flags.inputLayout === 'nhwc-uint8' ? `uint8 [N, ${height}, ${width}, ${channels}] pixels` : `float32 [N, ${channels}, ${height}, ${width}], normalised`;
        process.stdout.write(`exported ${flags.checkpoint} to ${flags.out} (ONNX opset ${ONNX_OPSET}): input ${shape}, output logits [N, ${model.architecture.classes}]\n`);
        return;
      }
      await writeFileAtomically(flags.out, await exportPytorchWeights(model));
      process.stdout.write(`exported ${flags.checkpoint} to ${flags.out}; in PyTorch: model.load_state_dict(safetensors.torch.load_file('${flags.out}'))\n`);
    });
}
