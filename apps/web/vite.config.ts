import { defineConfig } from 'vite';

// Relative asset paths: the page is served from any folder (pyramid serve, a static host).
export default defineConfig({
  base: './',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
});
