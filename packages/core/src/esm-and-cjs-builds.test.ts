import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const esmEntry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const cjsEntry = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));

/** Runs an ES module script in a plain `node` process (outside vitest's loader) and parses what it prints. */
function inNode(script: string): Record<string, unknown> {
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, PYRAMID_CPU_THREADS: '' } }));
}

// Both builds in one process, as a program gets when it (or one of its dependencies) imports the
// package while another part requires it: each build has its own module-level variables.
const bothBuilds = `
  import { createRequire } from 'node:module';
  const require = createRequire(${JSON.stringify(cjsEntry)});
  const esm = await import(${JSON.stringify(esmEntry)});
  const cjs = require(${JSON.stringify(cjsEntry)});
  const tf = require('@tensorflow/tfjs-core');
  const conv2d = () => tf.getKernel('Conv2D', 'cpu').kernelFunc;
`;

describe('the ESM and CommonJS builds loaded in one process', () => {
  it('are two copies of the module, sharing one backend registry', () => {
    const out = inNode(`${bothBuilds}
      await esm.useBackend('cpu', { threads: 2 });
      process.stdout.write(JSON.stringify({
        twoCopies: esm.useBackend !== cjs.useBackend,
        sameRegistry: esm.backends === cjs.backends,
        activeSeenByCjs: cjs.backends.current()?.name ?? null,
      }));`);
    expect(out).toEqual({ twoCopies: true, sameRegistry: true, activeSeenByCjs: 'cpu' });
  });

  it('share the installed CPU kernels: their thread count, and restoring tfjs-backend-cpu', () => {
    // Each build's own CPU plugin, called directly: kernels installed through one are the other's.
    const out = inNode(`${bothBuilds}
      const stockConv2d = conv2d();
      await esm.cpuBackendPlugin.setup({ threads: 2 });
      const threads = { esm: esm.projectKernelThreads(), cjs: cjs.projectKernelThreads() };
      const projectConv2d = conv2d() !== stockConv2d;
      await cjs.cpuBackendPlugin.setup({ kernels: 'stock' });
      process.stdout.write(JSON.stringify({
        threads,
        projectConv2d,
        restored: conv2d() === stockConv2d,
        afterRestore: { esm: esm.projectKernelThreads(), cjs: cjs.projectKernelThreads() },
      }));`);
    expect(out).toEqual({ threads: { esm: 2, cjs: 2 }, projectConv2d: true, restored: true, afterRestore: { esm: null, cjs: null } });
  });

  it("recognise each other's errors", () => {
    const out = inNode(`${bothBuilds}
      process.stdout.write(JSON.stringify({
        cjsSeesEsm: cjs.isPyramidError(new esm.ConfigError('x')),
        esmSeesCjs: esm.isPyramidError(new cjs.DataError('x')),
        plainError: esm.isPyramidError(new Error('x')),
      }));`);
    expect(out).toEqual({ cjsSeesEsm: true, esmSeesCjs: true, plainError: false });
  });
});
