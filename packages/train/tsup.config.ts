import { defineConfig } from 'tsup';
import { libraryOptions } from '../../tsup.preset';

// Two entries sharing one copy of the common code (splitting): the browser-safe main entry and
// the Node entry with the file system.
export default defineConfig(libraryOptions({ entry: ['src/index.ts', 'src/node.ts'], splitting: true }));
