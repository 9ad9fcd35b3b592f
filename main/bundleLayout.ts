// Where scripts/desktopBuild.ts writes the Electron bundles and where main.ts looks for them: one
// list, so the two cannot drift apart. Paths are relative to the project root.

export const BUNDLE_DIR = 'dist/main';

/** The main process (CommonJS: Electron loads it synchronously, so privileged schemes register before `ready`). */
export const MAIN_BUNDLE = 'main.cjs';
/** The sandboxed preload: one CommonJS file, no requires but 'electron'. */
export const PRELOAD_BUNDLE = 'preload.cjs';
/** The core's utility process (ESM: app/ reads import.meta.url). */
export const CORE_BUNDLE = 'coreProcess.mjs';
/** app/engine's inference worker, next to the core bundle where enginePool looks for it. */
export const INFERENCE_WORKER_BUNDLE = 'inferenceWorker.js';

/** Under dist/: the renderer build (vite.config.ts) and the Electron build of native addons. */
export const RENDERER_DIR = 'dist/renderer';

/** In the packaged app, the offline default model's folder under process.resourcesPath (electron-builder.yml's extraResources). */
export const PACKAGED_MODELS_DIR = 'models';
/** How main.ts tells the core where that folder is. */
export const BUILTIN_MODELS_ENV = 'SIGHTLINE_BUILTIN_MODELS_DIR';
