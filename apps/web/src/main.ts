import { DATASETS, type DatasetName, type InputSpec } from '@pyramid/core';
import type { CheckpointConfig } from '@pyramid/pyramidnet';
import { drawLossChart } from './chart';
import { fetchRetrying } from './fetch-retry';
import { imageToInput } from './image';
import { ModelClient } from './model-client';
import type { BackendReply } from './model-protocol';
import { datasetOf, readSample, sampleRgba } from './sample';
import { type BrowserGpu, webGpuFailed, webGpuProblem } from './webgpu';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (id: string, text: string) => ($(id).textContent = text);

/** The model, its backend and its training run in a worker; this thread keeps the page. */
const worker = new ModelClient();
let checkpoint: CheckpointConfig | null = null;
let lastImage: ImageBitmap | null = null;
let lastTruth: string | undefined;
/** Object URLs of the fine-tuned checkpoint's two files, while they are offered. */
let download: { config: string; weights: string } | null = null;

/** The backend in a few words: "WebGPU", "CPU, 4 threads". */
function backendName(info: BackendReply): string {
  if (info.name === 'webgpu') return 'WebGPU';
  return info.threads === null ? 'CPU' : `CPU, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
}

/** Activates the chosen backend and says plainly which one runs, on how many threads, and why. */
async function selectBackend(choice: string): Promise<void> {
  status('backend-status', `starting ${choice}…`);
  // `?threads=N` sets the CPU kernels' threads (default: the browser's navigator.hardwareConcurrency).
  const threadsParam = new URLSearchParams(location.search).get('threads');
  const threads = threadsParam === null ? undefined : Number(threadsParam);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    status('backend-status', `?threads= must be a positive whole number, got '${threadsParam}'`);
    return;
  }
  // The backend plugin's reasons speak to whoever runs Node; a browser's user gets the page's own.
  const problem = choice === 'cpu' ? null : await webGpuProblem((navigator as unknown as { gpu?: BrowserGpu }).gpu);
  let fallback = problem;
  let info: BackendReply | null = null;
  if (!problem && choice !== 'cpu') {
    try {
      info = await worker.request({ kind: 'backend', choice, threads });
    } catch (error) {
      fallback = webGpuFailed((error as Error).message);
    }
  }
  try {
    info ??= await worker.request({ kind: 'backend', choice: 'cpu', threads });
  } catch (error) {
    status('backend-status', `the CPU backend would not start: ${(error as Error).message}`);
    return;
  }
  // Why the CPU runs (no WebGPU), else what runs it; and why it has fewer threads than asked for.
  const why = fallback ?? `${info.detail}${info.notices.length ? ` (${info.notices.join('; ')})` : ''}`;
  const threadNotes = fallback ? info.notices.filter((n) => n.startsWith('cpu: one thread')) : [];
  status('backend-status', `Backend: ${backendName(info)} — ${why}${threadNotes.length ? ` (${threadNotes.join('; ')})` : ''}`);
  document.body.dataset.backend = info.name;
  if (info.threads === null) delete document.body.dataset.threads;
  else document.body.dataset.threads = String(info.threads);
  await warmUp();
  if (lastImage) await classify(lastImage, lastTruth);
}

async function loadCheckpointBytes(configText: string, weights: Uint8Array, source: string): Promise<void> {
  // The worker keeps the bytes, to decode its fine-tuning copy from them.
  const loaded = await worker.request({ kind: 'load', config: configText, weights, source }, { transfer: [weights.buffer] });
  checkpoint = loaded.config;
  releaseDownload();
  describeFineTuning();
  const { height, width, channels } = checkpoint.input.shape;
  status('checkpoint-status', `${source}: ${checkpoint.preset ?? 'PyramidNet'}, ${height}x${width}x${channels} input, ${checkpoint.architecture.classes} classes`);
  $('summary').textContent = loaded.summary;
  document.body.dataset.checkpoint = 'loaded';
  await showSamples(checkpoint.input);
  await warmUp();
  if (lastImage) await classify(lastImage, lastTruth);
}

/**
 * Runs the model once on a blank image so that the backend compiles its kernels now (on WebGPU,
 * shader compilation takes seconds), saying so while it does and how long it took.
 */
async function warmUp(): Promise<void> {
  if (!checkpoint) return;
  const backend = document.body.dataset.backend === 'webgpu' ? 'WebGPU' : 'CPU';
  status('warmup-status', `compiling kernels for ${backend}…`);
  document.body.dataset.warmup = 'running';
  const { height, width, channels } = checkpoint.input.shape;
  const start = performance.now();
  await worker.request({ kind: 'predict', input: new Float32Array(height * width * channels) });
  status('warmup-status', `${backend} kernels compiled in ${((performance.now() - start) / 1000).toFixed(1)} s (the first inference); ready`);
  document.body.dataset.warmup = 'done';
}

/**
 * A dozen images of the checkpoint's dataset to click, from the page's own folder (served by
 * `pyramid serve`, never fetched from elsewhere); none for a model of an image folder.
 */
async function showSamples(input: InputSpec): Promise<void> {
  const gallery = $('samples');
  gallery.replaceChildren();
  delete document.body.dataset.samples;
  const dataset = datasetOf(input);
  if (!dataset) {
    status('samples-status', "No sample images: this checkpoint's classes are not those of a dataset the page knows (a model of an image folder, say). Drop an image of your own.");
    return;
  }
  const { title, classNames } = DATASETS[dataset];
  const response = await fetch(`./samples/${dataset}.bin`).catch(() => null);
  if (!response?.ok) {
    status('samples-status', `No ${title} sample images are served with this page. Drop an image of your own.`);
    return;
  }
  const sample = readSample(new Uint8Array(await response.arrayBuffer()), input.shape);
  const { height, width } = input.shape;
  for (let i = 0; i < sample.count; i++) {
    const label = classNames![sample.labels[i]];
    const button = document.createElement('button');
    button.type = 'button';
    button.title = `${title} test image: ${label}`;
    button.dataset.label = label;
    const thumb = document.createElement('canvas');
    thumb.width = width;
    thumb.height = height;
    const pixels = new ImageData(sampleRgba(sample, i, input.shape), width, height);
    thumb.getContext('2d')!.putImageData(pixels, 0, 0);
    button.append(thumb);
    button.addEventListener('click', () => void createImageBitmap(pixels).then((image) => classify(image, label)));
    gallery.append(button);
  }
  status('samples-status', `${sample.count} ${title} test images: click one to classify it.`);
  document.body.dataset.samples = String(sample.count);
}

/**
 * From the moment another checkpoint is asked for until it is in the model worker, the page marks
 * itself as loading and stops saying it offers the previous checkpoint's samples.
 */
function checkpointLoading(): void {
  document.body.dataset.checkpoint = 'loading';
  delete document.body.dataset.samples;
}

/** After a load that failed: the previous checkpoint, if any, is still the one in use. */
function checkpointKept(): void {
  if (!checkpoint) {
    delete document.body.dataset.checkpoint;
    return;
  }
  document.body.dataset.checkpoint = 'loaded';
  const shown = $('samples').childElementCount;
  if (shown) document.body.dataset.samples = String(shown);
}

async function loadFromUrl(url: string): Promise<void> {
  const base = url.endsWith('/') ? url : `${url}/`;
  status('checkpoint-status', `loading ${base}…`);
  checkpointLoading();
  try {
    const [config, weights] = await Promise.all([
      fetchRetrying(`${base}config.json`).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`config.json: HTTP ${r.status}`)))),
      fetchRetrying(`${base}model.safetensors`).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`model.safetensors: HTTP ${r.status}`)))),
    ]);
    await loadCheckpointBytes(config, new Uint8Array(weights), base);
  } catch (error) {
    status('checkpoint-status', `could not load ${base}: ${(error as Error).message}`);
    checkpointKept();
  }
}

async function loadFromFiles(files: FileList | File[]): Promise<void> {
  const list = [...files];
  const config = list.find((f) => f.name.endsWith('.json'));
  const weights = list.find((f) => f.name.endsWith('.safetensors'));
  if (!config || !weights) {
    status('checkpoint-status', 'a checkpoint is two files: config.json and model.safetensors');
    return;
  }
  checkpointLoading();
  try {
    await loadCheckpointBytes(await config.text(), new Uint8Array(await weights.arrayBuffer()), `${config.name} + ${weights.name}`);
  } catch (error) {
    status('checkpoint-status', (error as Error).message);
    checkpointKept();
  }
}

/** Classifies `image` (of class `truth` where it is known) and shows the top 5. */
async function classify(image: ImageBitmap, truth?: string): Promise<void> {
  lastImage = image;
  lastTruth = truth;
  if (!checkpoint) {
    status('inference-status', 'load a checkpoint first');
    return;
  }
  const spec: InputSpec = checkpoint.input;
  const { input } = imageToInput(image, spec, $<HTMLCanvasElement>('preview'));
  const { probabilities: values, ms } = await worker.request({ kind: 'predict', input }, { transfer: [input.buffer] });
  const top = [...values].map((p, c) => [p, c] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
  const list = $('top5');
  list.replaceChildren(
    ...top.map(([p, c]) => {
      const li = document.createElement('li');
      li.dataset.class = String(c);
      li.dataset.label = spec.classNames[c];
      li.dataset.probability = String(p);
      li.append(`${spec.classNames[c]} ${(100 * p).toFixed(1)}%`);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, 150 * p)}px`;
      li.append(bar);
      return li;
    }),
  );
  const truthNote = truth === undefined ? '' : `; the image is of class ${truth}`;
  status('inference-status', `${document.body.dataset.backend === 'webgpu' ? 'WebGPU' : 'CPU'}: ${ms.toFixed(1)} ms${truthNote}`);
  document.body.dataset.classified = String(Number(document.body.dataset.classified ?? 0) + 1);
}

/** Where the page keeps training images of a dataset: 600 MNIST digits, else its dozen samples. */
const trainingImagesOf = (dataset: DatasetName) => (dataset === 'mnist' ? './sample-digits.bin' : `./samples/${dataset}.bin`);

/** Says what the training section will do with the loaded checkpoint, and whether it can. */
function describeFineTuning(): void {
  const button = $<HTMLButtonElement>('train-button');
  const dataset = checkpoint ? datasetOf(checkpoint.input) : null;
  button.disabled = !dataset;
  if (!checkpoint) status('train-about', 'Load a checkpoint above: the page fine-tunes it in the browser and lets you download the result.');
  else if (!dataset) status('train-about', "The page has no training images for this checkpoint's classes (a model of an image folder, say), so it cannot fine-tune it here.");
  else {
    const what = dataset === 'mnist' ? '600 real MNIST digits' : `the dozen ${DATASETS[dataset].title} sample images above`;
    status('train-about', `The loaded checkpoint learns ${what} in the browser, on the backend above, with the trainer's own step; then you can download the result.`);
  }
}

/**
 * Fine-tunes a copy of the loaded checkpoint in the model worker on the page's images of its
 * dataset (`?trainSteps=`, `?trainSeed=`), charting the loss live, and offers the result for
 * download as a checkpoint the CLI reads.
 */
async function fineTune(): Promise<void> {
  if (!checkpoint) return;
  const dataset = datasetOf(checkpoint.input);
  if (!dataset) return;
  const button = $<HTMLButtonElement>('train-button');
  button.disabled = true;
  delete document.body.dataset.trained;
  releaseDownload();
  try {
    const query = new URLSearchParams(location.search);
    const steps = Number(query.get('trainSteps') ?? 60);
    const response = await fetch(trainingImagesOf(dataset));
    if (!response.ok) throw new Error(`${trainingImagesOf(dataset)}: HTTP ${response.status}`);
    const trainingImages = new Uint8Array(await response.arrayBuffer());
    // The first step compiles the training kernels (seconds on WebGPU): say so rather than nothing.
    status('train-status', `compiling the training kernels for ${document.body.dataset.backend === 'webgpu' ? 'WebGPU' : 'CPU'}…`);
    const losses: number[] = [];
    const tuned = await worker.request(
      { kind: 'fine-tune', trainingImages, steps, seed: Number(query.get('trainSeed') ?? 1) },
      {
        transfer: [trainingImages.buffer],
        progress: ({ step, loss, imagesPerSecond }) => {
          losses.push(loss);
          drawLossChart($<HTMLCanvasElement>('loss-chart'), losses, steps);
          status('train-status', `step ${step}/${steps}: loss ${loss.toFixed(3)}, ${imagesPerSecond.toFixed(1)} images/s`);
        },
      },
    );
    offerDownload(tuned.config, tuned.weights);
    document.body.dataset.trainLosses = JSON.stringify(tuned.losses);
    document.body.dataset.trained = 'true';
  } catch (error) {
    status('train-status', `fine-tuning failed: ${(error as Error).message}`);
  } finally {
    describeFineTuning();
  }
}

/** Links to the fine-tuned checkpoint's two files, to save into one folder for the CLI. */
function offerDownload(config: string, weights: Uint8Array): void {
  download = {
    config: URL.createObjectURL(new Blob([config], { type: 'application/json' })),
    // writeSafetensors returns bytes of a plain ArrayBuffer, never a shared one.
    weights: URL.createObjectURL(new Blob([weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' })),
  };
  $<HTMLAnchorElement>('download-config').href = download.config;
  $<HTMLAnchorElement>('download-weights').href = download.weights;
  $('download').hidden = false;
}

function releaseDownload(): void {
  if (download) {
    URL.revokeObjectURL(download.config);
    URL.revokeObjectURL(download.weights);
  }
  download = null;
  $('download').hidden = true;
}

function dropZone(id: string, onFiles: (files: FileList) => void): void {
  const zone = $(id);
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer?.files.length) onFiles(e.dataTransfer.files);
  });
}

async function classifyFile(file: File): Promise<void> {
  try {
    await classify(await createImageBitmap(file));
  } catch (error) {
    status('inference-status', `${file.name}: ${(error as Error).message}`);
  }
}

$('backend').addEventListener('change', (e) => void selectBackend((e.target as HTMLSelectElement).value));
$('checkpoint-url-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadFromUrl($<HTMLInputElement>('checkpoint-url').value);
});
$('checkpoint-files').addEventListener('change', (e) => void loadFromFiles((e.target as HTMLInputElement).files ?? []));
$('image-file').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void classifyFile(file);
});
$('train-button').addEventListener('click', () => void fineTune());
$('train-button').textContent = `Fine-tune ${Number(new URLSearchParams(location.search).get('trainSteps') ?? 60)} steps`;
describeFineTuning();
dropZone('checkpoint-drop', (files) => void loadFromFiles(files));
dropZone('image-drop', (files) => void classifyFile(files[0]));

// A checkpoint to start with: ?checkpoint=URL, or the one `pyramid serve` publishes beside the page.
const params = new URLSearchParams(location.search);
const initial = params.get('checkpoint') ?? './checkpoint/';
$<HTMLInputElement>('checkpoint-url').value = initial;
await selectBackend(params.get('backend') ?? 'auto');
$<HTMLSelectElement>('backend').value = params.get('backend') ?? 'auto';
const probe = await fetchRetrying(`${initial.endsWith('/') ? initial : `${initial}/`}config.json`, { method: 'HEAD' }).catch(() => null);
if (probe?.ok) await loadFromUrl(initial);
document.body.dataset.ready = 'true';
