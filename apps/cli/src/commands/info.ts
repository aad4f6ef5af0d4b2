import { PyramidNet, formatSummary, summarize } from '@pyramid/pyramidnet';
import { activateBackend } from '../backend';
import type { Command } from 'commander';
import { type ModelFlags, addModelOptions, modelFromFlags, presetTable } from '../model-options';
import { printJson } from '../output';

export function infoCommand(program: Command): void {
  addModelOptions(
    program
      .command('info')
      .description("a model's layers, parameters (total and the paper's count without BN), multiply-accumulates and the paper's error rates")
      .option('--list', 'list the presets')
      .option('--json', 'print JSON: {preset, architecture, widths, params, paperParams, bnParams, macs, layers, paper}'),
  ).action(async (flags: ModelFlags & { list?: boolean; json?: boolean }) => {
    if (flags.list) {
      process.stdout.write(`${presetTable()}\n`);
      return;
    }
    const choice = modelFromFlags(flags)!;
    // Counting needs the weights' shapes only; the stock CPU backend holds them without threads.
    await activateBackend({ backend: 'cpu', kernels: 'stock' }, true);
    const model = new PyramidNet(choice.architecture);
    const summary = summarize(model);
    const arch = model.architecture;
    if (flags.json) {
      printJson({
        preset: choice.preset?.name ?? null,
        architecture: choice.architecture,
        widths: arch.unitWidths,
        stageUnits: arch.stageUnits,
        params: summary.params,
        paperParams: summary.paperParams,
        bnParams: summary.bnParams,
        macs: summary.macs,
        layers: summary.rows,
        paper: choice.preset?.paper ?? null,
      });
      return;
    }
    const title = choice.preset ? `${choice.preset.name}: ${choice.preset.description}` : 'custom PyramidNet';
    const unit = arch.unit === 'basic' ? 'basic' : 'bottleneck';
    process.stdout.write(
      `${title}\n${arch.layout} layout, depth ${arch.depth}, ${unit} units ${arch.stageUnits.join('+')}, ${arch.widening} widening alpha ${arch.alpha} ` +
        `(widths ${arch.unitWidths[0]} to ${arch.unitWidths[arch.unitWidths.length - 1]}), ${arch.classes} classes\n\n${formatSummary(summary)}\n`,
    );
    if (choice.preset?.paper) {
      for (const r of choice.preset.paper) {
        const errors = [r.top1Error && `top-1 error ${r.top1Error}%`, r.top5Error && `top-5 error ${r.top5Error}%`].filter(Boolean).join(', ');
        process.stdout.write(`paper (${r.source}${r.crop ? `, ${r.crop}px crop` : ''}): ${r.params} parameters, ${errors}\n`);
      }
    }
    model.dispose();
  });
}
