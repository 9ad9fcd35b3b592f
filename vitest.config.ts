import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Compiles the renderer's runes (.svelte.ts state classes) for test/renderer; other files pass through.
  plugins: [svelte()],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // onnxruntime sessions and sharp already use both cores; parallel files would only thrash them.
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default', './test/support/plainSummaryReporter.ts'],
  },
});
