import { defineConfig } from 'vite';

// Relative asset paths: the page is served from any folder (pyramid serve, a static host).
// The model worker is an ES module, so that it shares the page's code-split chunks' format.
// `vite` and `vite preview` send the cross-origin isolation headers `pyramid serve` sends
// (ISOLATION_HEADERS in apps/cli/src/commands/serve.ts), so that the CPU kernels get their worker
// threads there too.
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

export default defineConfig({
  base: './',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  worker: { format: 'es' },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
});
