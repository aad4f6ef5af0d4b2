import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pyramid/core';
import { dataSize } from '@pyramid/datasets';
import { type ArchitectureConfig, CONFIG_FILE, type SafetensorsFile, type TorchFileInfo, parseCheckpointConfig, readPytorchStateDict, resolveArchitecture } from '@pyramid/pyramidnet';
import { loadCheckpoint } from '@pyramid/pyramidnet/node';
import { RECIPES, type Recipe, type RunConfig, type SettingNames, createRunConfig, defaultRecipeFor, findRecipe, validateRecipe } from '@pyramid/train';
import { type InitialWeights, LAST, assertRunFolderFree, readRunConfig, train } from '@pyramid/train/node';
import { Option, type Command } from 'commander';
import { type BackendFlags, activateBackend, addBackendOptions, describeBackend } from '../backend';
import { DATA_NAMES, type DataOptions, loadData } from '../data';
import { type ModelFlags, addModelOptions, modelFromFlags, parseInput, parseInteger, parseNumber } from '../model-options';
import { UsageError } from '../output';
import { type OutputMode, TrainingReporter } from '../progress';
import { describeTorchFile } from './convert';

interface TrainFlags extends ModelFlags, BackendFlags {
  data?: string;
  recipe?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  schedule?: 'step' | 'cosine' | 'constant';
  milestones?: string;
  gamma?: number;
  warmup?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  bnDecay?: boolean;
  labelSmoothing?: number;
  augment?: 'cifar' | 'imagenet' | 'none';
  cutout?: number;
  mixup?: number;
  cutmix?: number;
  cutmixBeta?: number;
  seed: number;
  run?: string;
  resume?: string;
  evalEvery: number;
  checkpointEvery: number;
  compile: boolean;
  testFraction?: number;
  dataDir?: string;
  dataArchive?: string;
  valLabels?: string;
  skipBadImages?: boolean;
  normalization?: 'cifar' | 'imagenet' | 'measured';
  preprocess?: 'center-crop' | 'stretch';
  quiet?: boolean;
  json?: boolean;
  init?: string;
  freeze?: 'none' | 'body' | 'all-but-last-stage';
  headLrMultiplier?: number;
  progressEvery: number;
}

const MODEL_FLAGS: (keyof ModelFlags)[] = ['preset', 'dataset', 'depth', 'alpha', 'bottleneck', 'widening', 'classes', 'input', 'design', 'shortcut', 'shakedrop', 'rounding'];
const RECIPE_FLAGS: (keyof TrainFlags)[] = ['testFraction', 'dataDir', 'dataArchive', 'valLabels', 'skipBadImages', 'normalization', 'recipe', 'epochs', 'batchSize', 'lr', 'schedule', 'milestones', 'gamma', 'warmup', 'momentum', 'nesterov', 'weightDecay', 'bnDecay', 'labelSmoothing', 'augment', 'cutout', 'mixup', 'cutmix', 'cutmixBeta', 'freeze', 'headLrMultiplier'];

function parsePositive(flag: string) {
  const number = parseNumber(flag);
  return (value: string) => {
    const n = number(value);
    if (n <= 0) throw new UsageError(`${flag} must be a positive number of seconds, got '${value}'`);
    return n;
  };
}

function recipeFromFlags(flags: TrainFlags, dataset: string): { name: string; recipe: Recipe } {
  const { name, recipe } = flags.recipe ? { name: flags.recipe, recipe: findRecipe(flags.recipe) } : defaultRecipeFor(dataset);
  if (flags.epochs !== undefined) recipe.epochs = flags.epochs;
  if (flags.batchSize !== undefined) recipe.batchSize = flags.batchSize;
  if (flags.lr !== undefined) recipe.lr = flags.lr;
  if (flags.schedule === 'cosine' || flags.schedule === 'constant') recipe.schedule = { type: flags.schedule };
  if (flags.schedule === 'step' && recipe.schedule.type !== 'step') recipe.schedule = { type: 'step', milestones: [], gamma: 0.1 };
  if (flags.milestones !== undefined || flags.gamma !== undefined) {
    if (recipe.schedule.type !== 'step') throw new UsageError('--milestones and --gamma need --schedule step');
    if (flags.milestones !== undefined) {
      const values = flags.milestones.split(',').map((s) => Number(s.trim()));
      if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new UsageError(`--milestones must be comma-separated epoch numbers, got '${flags.milestones}'`);
      recipe.schedule.milestones = values;
    }
    if (flags.gamma !== undefined) recipe.schedule.gamma = flags.gamma;
  }
  if (flags.warmup !== undefined) recipe.warmupEpochs = flags.warmup;
  if (flags.momentum !== undefined) recipe.momentum = flags.momentum;
  if (flags.nesterov !== undefined) recipe.nesterov = flags.nesterov;
  if (flags.weightDecay !== undefined) recipe.weightDecay = flags.weightDecay;
  if (flags.bnDecay === false) recipe.noBnDecay = true;
  if (flags.labelSmoothing !== undefined) recipe.labelSmoothing = flags.labelSmoothing;
  if (flags.augment !== undefined) recipe.augment = flags.augment;
  if (flags.cutout !== undefined) recipe.cutout = flags.cutout;
  if (flags.mixup !== undefined) recipe.mixup = flags.mixup;
  if (flags.cutmix !== undefined) recipe.cutmix = flags.cutmix;
  if (flags.cutmixBeta !== undefined) recipe.cutmixBeta = flags.cutmixBeta;
  if (flags.freeze !== undefined) recipe.freeze = flags.freeze;
  if (flags.headLrMultiplier !== undefined) recipe.headLrMultiplier = flags.headLrMultiplier;
  asUsageError(() => validateRecipe(recipe, flagNames));
  return { name, recipe };
}

/** The library names settings by key; here they are flags (`batchSize` is --batch-size). */
const flagNames: SettingNames = (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A setting the library refuses is a mistake in the flags: exit status 2. */
function asUsageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** What --init names: a checkpoint folder (with its architecture) or a weights file, read before any data. */
interface InitSource {
  source: string;
  checkpoint: { architecture: ArchitectureConfig } | null;
  stateDict: SafetensorsFile | null;
}

function readInitSource(source: string, quiet: boolean): InitSource {
  let isFolder: boolean;
  try {
    isFolder = statSync(source).isDirectory();
  } catch {
    throw new UsageError(`--init ${source}: no such file or folder`);
  }
  if (isFolder) {
    const configPath = join(source, CONFIG_FILE);
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch {
      throw new UsageError(`--init ${source}: a folder without ${CONFIG_FILE}, so not a checkpoint`);
    }
    const config = parseCheckpointConfig(text, configPath);
    return { source, checkpoint: { architecture: config.architecture }, stateDict: null };
  }
  const bytes = readFileSync(source);
  const stateDict = readPytorchStateDict(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), source);
  const found = 'info' in stateDict ? describeTorchFile(stateDict.info as TorchFileInfo) : '';
  if (found && !quiet) process.stderr.write(`${source}: ${found}\n`);
  return { source, checkpoint: null, stateDict };
}

/** The weights themselves, once the backend is active: a checkpoint's model, or the file's tensors. */
async function initialWeights(from: InitSource): Promise<InitialWeights> {
  if (from.stateDict) {
    // The project's own model.safetensors holds native layouts; anything else is a PyTorch state_dict.
    const layout = from.stateDict.metadata.producer === '@pyramid/pyramidnet' ? 'native' : 'pytorch';
    return { stateDict: from.stateDict, layout, source: from.source };
  }
  const { model } = await loadCheckpoint(from.source);
  return { model, source: from.source };
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function trainCommand(program: Command): void {
  const command = program
    .command('train')
    .description('train a PyramidNet: the paper\'s recipe by default, every part overridable; resumable')
    .optionsGroup('Data:')
    .option('--data <name>', `training data: a dataset name (${DATA_NAMES.join(', ')}) or an image folder or archive`)
    .option('--data-dir <dir>', 'where the dataset is: cifar10/100 extracted folder, mnist or fashion-mnist idx folder')
    .option('--data-archive <file>', 'a CIFAR archive you already have (nothing is downloaded)')
    .option('--val-labels <file>', 'imagenet: label file of a flat val/ folder')
    .option('--test-fraction <x>', 'mnist-sample and single-split image folders: share of images held out for testing', parseNumber('--test-fraction', { above: 0, below: 1 }))
    .option('--skip-bad-images', 'image folders: skip images that cannot be decoded, with a warning')
    .addOption(new Option('--normalization <which>', "image folders: the paper's CIFAR or ImageNet constants, or the images' own statistics").choices(['cifar', 'imagenet', 'measured']))
    .addOption(
      new Option('--preprocess <how>', "image folders: images of another size than --input get their shorter side resized and the centre cropped, or are stretched; recorded in checkpoints for eval and predict")
        .choices(['center-crop', 'stretch']),
    )
    .optionsGroup('Recipe:')
    .option('--recipe <name>', `${Object.keys(RECIPES).join(', ')} (default: by dataset)`)
    .option('--epochs <n>', 'epochs', parseInteger('--epochs', { min: 1 }))
    .option('--batch-size <n>', 'images per step', parseInteger('--batch-size', { min: 1 }))
    .option('--lr <x>', 'base learning rate', parseNumber('--lr', { above: 0 }))
    .addOption(new Option('--schedule <type>', 'learning-rate schedule').choices(['step', 'cosine', 'constant']))
    .option('--milestones <epochs>', 'step schedule: comma-separated epochs where the rate is multiplied by --gamma')
    .option('--gamma <x>', 'step schedule factor', parseNumber('--gamma', { above: 0, max: 1 }))
    .option('--warmup <epochs>', 'linear warm-up epochs', parseNumber('--warmup', { min: 0 }))
    .option('--momentum <x>', 'SGD momentum', parseNumber('--momentum', { min: 0 }))
    .option('--nesterov', 'Nesterov momentum')
    .option('--no-nesterov', 'plain momentum')
    .option('--weight-decay <x>', 'L2 weight decay, added to the gradient as PyTorch does', parseNumber('--weight-decay', { min: 0 }))
    .option('--no-bn-decay', 'exempt BN scales and shifts from weight decay')
    .option('--label-smoothing <x>', 'label smoothing', parseNumber('--label-smoothing', { min: 0, below: 1 }))
    .optionsGroup('Augmentation and regularisation:')
    .addOption(new Option('--augment <kind>', 'augmentation').choices(['cifar', 'imagenet', 'none']))
    .option('--cutout <pixels>', 'Cutout: side of the square hidden in each image (16 for CIFAR-10, 8 for CIFAR-100; 0: off)', parseInteger('--cutout', { min: 0 }))
    .option('--mixup <alpha>', 'mixup with Beta(alpha, alpha) (e.g. 1; 0: off)', parseNumber('--mixup', { min: 0 }))
    .option('--cutmix <p>', 'CutMix on this share of batches (e.g. 0.5; 0: off)', parseNumber('--cutmix', { min: 0, max: 1 }))
    .option('--cutmix-beta <b>', 'CutMix: Beta(b, b) of the kept share', parseNumber('--cutmix-beta', { above: 0 }))
    .optionsGroup('Fine-tuning:')
    .option('--init <source>', 'fine-tune: start from these weights (a checkpoint folder, a safetensors state_dict or a torch.save .pt/.pth); a head of another class count is re-initialised')
    .addOption(new Option('--freeze <part>', 'fine-tune: leave the body (all but the classifier) or all but the last stage as they are').choices(['none', 'body', 'all-but-last-stage']))
    .option('--head-lr-multiplier <x>', "fine-tune: the classifier's learning rate as a multiple of the schedule's", parseNumber('--head-lr-multiplier', { above: 0 }))
    .optionsGroup('Run folder:')
    .option('--run <dir>', 'run folder (default: runs/<model>-<time>)')
    .option('--resume <dir>', 'continue the run in this folder from its last checkpoint (with --epochs N: to N epochs in all, e.g. extending a finished run)')
    .option('--seed <n>', 'seed of every random draw', parseInteger('--seed', { min: 0 }), 0)
    .option('--eval-every <n>', 'evaluate on the test set every n epochs', parseInteger('--eval-every', { min: 1 }), 1)
    .option('--no-compile', 'run every step op by op, even where the backend compiles the whole step (the reference it is checked against)')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (0: at epoch ends)', parseInteger('--checkpoint-every', { min: 0 }), 0)
    .optionsGroup('Output:')
    .option('--progress-every <seconds>', 'without a terminal, a progress line at most every so many seconds', parsePositive('--progress-every'), 30)
    .option('--quiet', 'print only the outcome')
    .option('--json', 'print events as JSON lines on stdout');
  command.optionsGroup('Model:');
  addBackendOptions(addModelOptions(command).optionsGroup('Backend:')).action(async (flags: TrainFlags) => {
    const mode: OutputMode = flags.json ? 'json' : flags.quiet ? 'quiet' : 'human';
    let config: RunConfig | undefined;
    let runDir: string;
    let dataSpec: string;
    let dataOptions: DataOptions = {
      testFraction: flags.testFraction,
      dataDir: flags.dataDir,
      archive: flags.dataArchive,
      valLabels: flags.valLabels,
      skipBad: flags.skipBadImages,
      normalization: flags.normalization,
      preprocessing: flags.preprocess,
    };
    if (flags.resume) {
      if (flags.run) throw new UsageError('--resume continues an existing run folder; --run starts a new one: give only one');
      if (flags.init) throw new UsageError('--resume continues from the run\'s own checkpoint; --init starts a new run: give only one');
      // --epochs alone may change: it extends (or shortens) the run, the schedule recomputed.
      const given = [...MODEL_FLAGS, ...RECIPE_FLAGS].filter((k) => k !== 'epochs' && (k === 'bnDecay' ? flags.bnDecay === false : flags[k] !== undefined));
      if (given.length) {
        const flag = given[0] === 'bnDecay' ? 'no-bn-decay' : given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        throw new UsageError(`--resume takes the model and recipe from the run folder; remove --${flag}`);
      }
      runDir = flags.resume;
      const saved = readRunConfig<RunConfig>(runDir);
      if (flags.data && flags.data !== saved.data.source) throw new UsageError(`${runDir} was trained on --data ${saved.data.source}, not ${flags.data}`);
      dataSpec = saved.data.source;
      dataOptions = saved.data.options as DataOptions;
    } else {
      if (!flags.data) throw new UsageError('--data is required (e.g. --data mnist-sample)');
      if (flags.run) assertRunFolderFree(flags.run);
      dataSpec = flags.data;
    }
    // Model and recipe first: their mistakes are reported before any data is loaded.
    let choice: ReturnType<typeof modelFromFlags> = null;
    let initSource: InitSource | null = null;
    let chosenRecipe: { name: string; recipe: Recipe } | null = null;
    if (flags.resume) {
      const saved = readRunConfig<RunConfig>(runDir!);
      dataOptions.size = { ...saved.architecture.input, channels: saved.architecture.input.channels as 1 | 3 };
      dataOptions.sizeChosen = true;
    } else {
      initSource = flags.init ? readInitSource(flags.init, mode !== 'human') : null;
      const checkpoint = initSource?.checkpoint;
      choice = modelFromFlags(flags, !checkpoint) ?? { preset: null, architecture: checkpoint!.architecture };
      if (checkpoint && choice.architecture === checkpoint.architecture) {
        // The CIFAR layout pools globally, so its weights fit other input sizes.
        if (flags.classes !== undefined) choice.architecture = { ...choice.architecture, classes: flags.classes };
        if (flags.input !== undefined) choice.architecture = { ...choice.architecture, input: parseInput(flags.input) };
      } else if (initSource?.stateDict && !MODEL_FLAGS.some((k) => flags[k] !== undefined)) {
        throw new UsageError(`--init ${flags.init} holds weights without their architecture: give the model flags it was trained with (--preset, or --dataset, --depth and --alpha)`);
      }
      // A checkpoint's model without flags names no dataset: image folders' defaults then.
      chosenRecipe = recipeFromFlags(flags, choice.preset?.dataset ?? flags.dataset ?? (checkpoint ? '' : 'mnist'));
      const input = resolveArchitecture(choice.architecture).input;
      dataOptions.size = { ...input, channels: input.channels as 1 | 3 };
      dataOptions.sizeChosen = flags.input !== undefined;
    }
    const data = await loadData(dataSpec, { ...dataOptions, quiet: mode !== 'human' });
    const info = await activateBackend(flags, mode !== 'human');
    if (mode === 'human') process.stderr.write(`${describeBackend(info)}\n`);

    let init: InitialWeights | undefined;
    if (choice && chosenRecipe) {
      const { name: recipeName, recipe } = chosenRecipe;
      // An image folder says how many classes it has: unless --classes is given, the model gets that many.
      const folderClasses = data.train.classNames.length;
      if (flags.classes === undefined && folderClasses !== resolveArchitecture(choice.architecture).classes) {
        if (mode === 'human') process.stderr.write(`classes: ${folderClasses}, from ${data.name} (--classes to choose)\n`);
        choice = { preset: null, architecture: { ...choice.architecture, classes: folderClasses } };
      }
      if (initSource) init = await initialWeights(initSource);
      const { size: _size, sizeChosen: _chosen, ...recorded } = data.options;
      const created = createRunConfig(
        {
          preset: choice.preset?.name ?? null,
          architecture: choice.architecture,
          data: { name: data.name, source: data.source, options: recorded, trainImages: dataSize(data.train), testImages: dataSize(data.test), classNames: data.train.classNames, normalization: data.train.normalization, preprocessing: data.preprocessing },
          recipeName,
          recipe,
          seed: flags.seed,
          evalEvery: flags.evalEvery,
          checkpointEvery: flags.checkpointEvery,
        },
        flagNames,
      );
      config = created;
      runDir = flags.run ?? join('runs', `${created.preset ?? `pyramidnet${created.architecture.depth}-a${created.architecture.alpha}`}-${timestamp()}`);
    }

    const reporter = new TrainingReporter(mode, { plainIntervalSeconds: flags.progressEvery });
    const controller = new AbortController();
    let interrupts = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      if (mode !== 'json') process.stderr.write(`\n${signal}: stopping after this step and saving a checkpoint (again to quit at once)\n`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const outcome = await train({
        runDir: runDir!,
        config,
        resume: Boolean(flags.resume),
        init,
        epochs: flags.resume ? flags.epochs : undefined,
        train: data.train,
        test: data.test,
        signal: controller.signal,
        compile: flags.compile,
        onEvent: (e) => reporter.handle(e),
      });
      if (mode === 'human' || mode === 'quiet') {
        if (outcome.status === 'stopped') {
          process.stderr.write(`resume with: pyramid train --resume ${runDir!}\n`);
        } else {
          process.stderr.write(`evaluate with: pyramid eval --checkpoint ${join(runDir!, LAST)} --data ${dataSpec}\n`);
        }
      }
      if (outcome.status === 'stopped') process.exitCode = 130;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
