import * as tf from '@tensorflow/tfjs-core';
import { type InputSpec, Rng, listBackends, registerBackendPlugin, sgdUpdate, useBackend } from '@pyramid/core';
import { backendPlugin as webgpuPlugin } from '@pyramid/backend-webgpu';
import { type CheckpointConfig, PyramidNet, decodeCheckpoint, formatSummary, summarize } from '@pyramid/pyramidnet';
import { drawLossChart } from './chart';
import { imageToInput } from './image';

registerBackendPlugin(webgpuPlugin);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (id: string, text: string) => ($(id).textContent = text);

let model: PyramidNet | null = null;
let checkpoint: CheckpointConfig | null = null;
let lastImage: ImageBitmap | null = null;

/** Activates the chosen backend and says plainly which one runs and why. */
async function selectBackend(choice: string): Promise<void> {
  status('backend-status', `starting ${choice}…`);
  const notices: string[] = [];
  try {
    const info = await useBackend(choice, {}, (n) => notices.push(n));
    const why = notices.length ? ` (${notices.join('; ')})` : '';
    status('backend-status', `Backend: ${info.name === 'webgpu' ? 'WebGPU' : 'CPU'} — ${info.detail}${why}`);
    document.body.dataset.backend = info.name;
  } catch (error) {
    const webgpu = (await listBackends()).find((b) => b.name === 'webgpu');
    await useBackend('cpu');
    document.body.dataset.backend = 'cpu';
    status('backend-status', `Backend: CPU — WebGPU is not available here: ${webgpu?.reason ?? (error as Error).message}`);
  }
  if (lastImage) await classify(lastImage);
}

async function loadCheckpointBytes(configText: string, weights: Uint8Array, source: string): Promise<void> {
  model?.dispose();
  model = null;
  const loaded = decodeCheckpoint(configText, weights, source);
  model = loaded.model;
  checkpoint = loaded.config;
  const { height, width, channels } = checkpoint.input.shape;
  status('checkpoint-status', `${source}: ${checkpoint.preset ?? 'PyramidNet'}, ${height}x${width}x${channels} input, ${checkpoint.architecture.classes} classes`);
  $('summary').textContent = formatSummary(summarize(model));
  document.body.dataset.checkpoint = 'loaded';
  if (lastImage) await classify(lastImage);
}

async function loadFromUrl(url: string): Promise<void> {
  const base = url.endsWith('/') ? url : `${url}/`;
  status('checkpoint-status', `loading ${base}…`);
  try {
    const [config, weights] = await Promise.all([
      fetch(`${base}config.json`).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`config.json: HTTP ${r.status}`)))),
      fetch(`${base}model.safetensors`).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`model.safetensors: HTTP ${r.status}`)))),
    ]);
    await loadCheckpointBytes(config, new Uint8Array(weights), base);
  } catch (error) {
    status('checkpoint-status', `could not load ${base}: ${(error as Error).message}`);
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
  try {
    await loadCheckpointBytes(await config.text(), new Uint8Array(await weights.arrayBuffer()), `${config.name} + ${weights.name}`);
  } catch (error) {
    status('checkpoint-status', (error as Error).message);
  }
}

async function classify(image: ImageBitmap): Promise<void> {
  lastImage = image;
  if (!model || !checkpoint) {
    status('inference-status', 'load a checkpoint first');
    return;
  }
  const spec: InputSpec = checkpoint.input;
  const { pixels, input } = imageToInput(image, spec, $<HTMLCanvasElement>('preview'));
  void pixels;
  const { height, width, channels } = spec.shape;
  const start = performance.now();
  const probabilities = tf.tidy(() => tf.softmax(model!.predict(tf.tensor4d(input, [1, height, width, channels]))));
  const values = (await probabilities.data()) as Float32Array;
  const ms = performance.now() - start;
  probabilities.dispose();
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
  status('inference-status', `${document.body.dataset.backend === 'webgpu' ? 'WebGPU' : 'CPU'}: ${ms.toFixed(1)} ms`);
  document.body.dataset.classified = String(Number(document.body.dataset.classified ?? 0) + 1);
}

/** Trains PyramidNet-8 on the 600 built-in digits for 60 steps of 32, charting the loss live. */
async function trainDemo(): Promise<void> {
  const button = $<HTMLButtonElement>('train-button');
  button.disabled = true;
  try {
    const bytes = new Uint8Array(await (await fetch('./sample-digits.bin')).arrayBuffer());
    const n = 600;
    const labels = bytes.subarray(0, n);
    const pixels = bytes.subarray(n);
    const net = new PyramidNet({ layout: 'cifar', depth: 8, alpha: 16, classes: 10, input: { height: 28, width: 28, channels: 1 } }, { seed: 1 });
    const params = net.namedTensors().filter((t) => t.kind === 'parameter');
    const buffers = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
    const rng = Rng.fromSeed(2);
    const losses: number[] = [];
    const batch = 32;
    const steps = Number(new URLSearchParams(location.search).get('trainSteps') ?? 60);
    const start = performance.now();
    for (let step = 0; step < steps; step++) {
      const order = rng.permutation(n).subarray(0, batch);
      const x = new Float32Array(batch * 784);
      const y = new Int32Array(batch);
      order.forEach((j, b) => {
        for (let p = 0; p < 784; p++) x[b * 784 + p] = (pixels[j * 784 + p] / 255 - 0.1307) / 0.3081;
        y[b] = labels[j];
      });
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = net.forward(tf.tensor4d(x, [batch, 28, 28, 1]), { training: true });
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 10), logits) as tf.Scalar;
        }, params.map((p) => p.variable));
        params.forEach((p, i) => sgdUpdate(p.variable, grads[p.variable.name], buffers[i], { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true, first: step === 0 }));
        return value;
      });
      losses.push((await loss.data())[0]);
      loss.dispose();
      drawLossChart($<HTMLCanvasElement>('loss-chart'), losses, steps);
      status('train-status', `step ${step + 1}/${steps}: loss ${losses[losses.length - 1].toFixed(3)}, ${(((step + 1) * batch * 1000) / (performance.now() - start)).toFixed(1)} images/s`);
      await new Promise((r) => setTimeout(r, 0));
    }
    net.dispose();
    tf.dispose(buffers);
    document.body.dataset.trained = 'true';
  } catch (error) {
    status('train-status', `training failed: ${(error as Error).message}`);
  } finally {
    button.disabled = false;
  }
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
$('train-button').addEventListener('click', () => void trainDemo());
$('train-button').textContent = `Train ${Number(new URLSearchParams(location.search).get('trainSteps') ?? 60)} steps`;
dropZone('checkpoint-drop', (files) => void loadFromFiles(files));
dropZone('image-drop', (files) => void classifyFile(files[0]));

// A checkpoint to start with: ?checkpoint=URL, or the one `pyramid serve` publishes beside the page.
const params = new URLSearchParams(location.search);
const initial = params.get('checkpoint') ?? './checkpoint/';
$<HTMLInputElement>('checkpoint-url').value = initial;
await selectBackend(params.get('backend') ?? 'auto');
$<HTMLSelectElement>('backend').value = params.get('backend') ?? 'auto';
const probe = await fetch(`${initial.endsWith('/') ? initial : `${initial}/`}config.json`, { method: 'HEAD' }).catch(() => null);
if (probe?.ok) await loadFromUrl(initial);
document.body.dataset.ready = 'true';
