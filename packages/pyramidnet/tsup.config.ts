import { defineConfig } from 'tsup';
import { libraryOptions } from '../../tsup.preset';

// Two entries sharing one copy of the model code (splitting), so that a model loaded through the
// Node entry is an instance of the main entry's PyramidNet.
export default defineConfig(libraryOptions({ entry: ['src/index.ts', 'src/node.ts'], splitting: true }));
