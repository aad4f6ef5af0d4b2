import { defineConfig } from 'tsup';
import { libraryOptions } from '../../tsup.preset';

// The decoding worker is a file of its own, loaded with new Worker(new URL('./decode-worker.js', import.meta.url)).
export default defineConfig(libraryOptions({ entry: { index: 'src/index.ts', 'decode-worker': 'src/image/decode-worker.ts' }, shims: true }));
