import type { Options } from 'tsup';

/** Build settings shared by every @pyramid package: ESM + CJS + declarations for Node 20 and browsers. */
export function libraryOptions(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
    esbuildOptions(options) {
      // 'neutral' resolves no main fields by default; bundled dependencies need them.
      options.mainFields = ['module', 'main'];
    },
    splitting: false,
    outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
    ...overrides,
  };
}
