import { defineConfig } from 'tsup';
import { libraryOptions } from '../../tsup.preset';

/**
 * tfjs-core publishes its gradient and chained-op registrations only as ES modules inside a
 * CommonJS package, which Node cannot load. We bundle those registration modules (as
 * @tensorflow/tfjs does) while the bare '@tensorflow/tfjs-core' stays an external peer: the
 * bundled code registers through tfjs's process-wide registries into the one engine.
 */
const tfjsCorePeerOnly = {
  name: 'tfjs-core-peer-only',
  setup(build: { onResolve: (o: { filter: RegExp }, cb: (a: { path: string }) => unknown) => void }) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-core$/ }, (args) => ({ path: args.path, external: true }));
  },
};

export default defineConfig(
  libraryOptions({
    entry: ['src/index.ts', 'src/node.ts'],
    noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
    esbuildPlugins: [tfjsCorePeerOnly as never],
  }),
);
