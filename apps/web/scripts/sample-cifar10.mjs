// public/samples/cifar10.bin: a dozen CIFAR-10 test images to click and classify, as raw bytes
// (12 labels, then 12 x 32 x 32 x 3 RGB pixels, NHWC), the first of each class and the second of
// the first two, taken from shared/data's decoded test images. Committed; rerun only to change it.
// usage: node apps/web/scripts/sample-cifar10.mjs [SHARED_DATA_FOLDER]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const data = process.argv[2] ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');
const index = JSON.parse(readFileSync(join(data, 'cifar10_test1000.json'), 'utf8'));
const images = readFileSync(join(data, 'cifar10_test1000_u8_nhwc.bin'));
const count = 12;
const pixels = 32 * 32 * 3;
const labels = new Uint8Array(count);
const chosen = new Uint8Array(count * pixels);
for (let at = 0; at < count; at++) {
  const label = at % 10;
  const i = index.labels.findIndex((l) => l === label) + Math.floor(at / 10);
  if (index.labels[i] !== label) throw new Error(`${data}: no image ${i} of class ${label}`);
  labels[at] = label;
  chosen.set(images.subarray(i * pixels, (i + 1) * pixels), at * pixels);
}
const out = join(import.meta.dirname, '..', 'public', 'samples');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'cifar10.bin'), Buffer.concat([labels, chosen]));
