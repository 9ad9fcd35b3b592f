// Builds the Svelte renderer into dist/renderer. Asset paths are relative so the same build loads
// under Electron's custom protocol or file://, and when `sightline serve` serves it at `/`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const rendererRoot = fileURLToPath(new URL('./renderer', import.meta.url));

export default defineConfig({
  root: rendererRoot,
  base: './',
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The CSP forbids inline scripts and data: scripts: every asset must be a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
