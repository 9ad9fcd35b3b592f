// `sightline train whitening|triplet`: learns with the triplet loss (DESIGN.md §1.3) on a folder
// of labelled photos, writes checkpoints and a learning-curve page, and registers the trained
// model under a new id so the library re-embeds with it. TensorFlow.js and the training code load
// only when a training command runs, so every other command starts as fast as before.
import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { RegisteredModel } from '../engine/modelRegistry.js';
import type { TrainingHistory, TripletTrainingOptions } from '../train/tripletTrainer.js';
import type { TrainingSet } from '../train/trainingSet.js';
import type { Whitening } from '../engine/whitening.js';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';
import { appDataDir } from '../paths.js';
import { updateSettings } from '../settings.js';
import { positiveInt, positiveIntList } from './cliOptions.js';
import { createProgressReporter, type ProgressReporter } from './progressReporter.js';
import { registerTrainRpnCommand } from './trainRpnCommand.js';

const positiveNumber = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
const nameList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

interface TrainCliOptions {
  data: string;
  clean?: string;
  exclude?: string[];
  holdout?: string[];
  model?: string;
  epochs?: number;
  batch?: number;
  lr?: number;
  margin?: number;
  remineEvery?: number;
  negatives?: number;
  dim: number;
  whiteningForm: string;
  seed: number;
  out?: string;
  resume?: boolean;
  name?: string;
  register: boolean;
  use?: boolean;
  backend?: string;
  json?: boolean;
}

interface WhiteningCliOptions extends TrainCliOptions {
  scales: number[];
}

interface TripletCliOptions extends TrainCliOptions {
  train: string;
  longSide: number;
  layer?: string;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data <dir>', 'labelled photos: an Oxford/Paris folder (gt/ + images/) or one subfolder per place or object (+ optional distractors/)')
    .option('--clean <file>', '`sightline clean` output: only the photos it verified are positives')
    .option('--exclude <names>', 'folders or classes never trained on, e.g. the landmark you evaluate (comma-separated)', nameList)
    .option('--holdout <names>', 'folders or classes kept out of training and used for the validation curve (comma-separated)', nameList)
    .option('--model <id|path>', 'model to start from: id, name, `default`, or a TF.js folder (default: the model in use)')
    .option('--epochs <n>', 'passes over the anchors', positiveInt('--epochs'))
    .option('--batch <n>', 'triplets per step', positiveInt('--batch'))
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'))
    .option('--margin <m>', 'triplet-loss margin m', positiveNumber('--margin'))
    .option('--remine-every <steps>', 'mine hard negatives with the current model every this many steps', positiveInt('--remine-every'))
    .option('--negatives <k>', 'draw each hard negative among the k hardest', positiveInt('--negatives'))
    .option('--dim <d>', 'whitened dimension', positiveInt('--dim'), 512)
    .option('--whitening-form <form>', 'full: the whitening learns any D × D mixing of the PCA components; diagonal: only rescales them (few classes)', 'full')
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
    .option('--out <dir>', 'checkpoints, curve.html and summary.json (default: a new folder under <app data>/training)')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--name <name>', 'name of the trained model')
    .option('--no-register', 'do not add the trained model to the registry')
    .option('--use', 'make the trained model the one every command uses')
    .option('--backend <name>', 'TF.js backend: auto | gpu | node | wasm | cpu (default auto: tfjs-node-gpu, tfjs-node, wasm, cpu)')
    .option('--json', 'one JSON summary on stdout');
}

export function registerTrainCommand(program: Command): void {
  const train = program.command('train').description('learn the whitening, or fine-tune the network, with the triplet loss (TensorFlow.js)');
  addCommonOptions(train.command('whitening').description('learn the shift + FC whitening on the frozen backbone\'s region vectors, starting from PCA (any model)'))
    .option('--scales <list>', 'long sides to pool training regions at', positiveIntList, [512])
    .action((opts: WhiteningCliOptions) => runTraining('whitening', opts));
  addCommonOptions(train.command('triplet').description('fine-tune backbone units and the whitening end to end (models with TF.js weights)'))
    .option('--train <layers>', 'what learns: whitening | top[:N] (the last N convolutions, default 3) | all', 'top')
    .option('--long-side <px>', 'long side S of the training photos', positiveInt('--long-side'), 512)
    .option('--layer <name>', 'feature layer / node, for a TF.js folder')
    .action((opts: TripletCliOptions) => runTraining('triplet', opts));
  // The RPN head (DESIGN.md §1.4) trains on clean boxes, not triplets: its own module.
  registerTrainRpnCommand(train);
}

interface TrainingOutcome {
  whitening: Whitening;
  history: TrainingHistory;
  backbone: ConvertedModel | RegisteredModel;
  base: string;
  /** Readable name of the base, for the trained model's name. */
  baseName: string;
  source: string;
  licence: string;
  normalisation: InputNormalisation;
  trained: string;
  images: number;
  anchors: number;
}

async function runTraining(kind: 'whitening' | 'triplet', opts: WhiteningCliOptions | TripletCliOptions): Promise<void> {
  if (opts.resume && !opts.out) throw new InvalidArgumentError('--resume needs --out, the folder of the run to continue');
  if (opts.whiteningForm !== 'full' && opts.whiteningForm !== 'diagonal') throw new InvalidArgumentError('--whitening-form must be full or diagonal');
  const train = await import('../train/trainingBackend.js');
  const preference = opts.backend ?? process.env.SIGHTLINE_TRAIN_BACKEND;
  if (preference && !(train.BACKEND_PREFERENCES as readonly string[]).includes(preference)) throw new InvalidArgumentError(`--backend must be one of ${train.BACKEND_PREFERENCES.join(', ')}`);
  const backend = await train.selectTrainingBackend({ prefer: preference as (typeof train.BACKEND_PREFERENCES)[number] | undefined });
  console.error(backend.summary);

  const { loadTrainingSet } = await import('../train/trainingSet.js');
  const { readCleanResult } = await import('../train/cleanResult.js');
  const { DEFAULT_TRIPLET_OPTIONS } = await import('../train/tripletTrainer.js');
  const { DEFAULT_LEARNING } = await import('../train/learningDefaults.js');
  const clean = opts.clean ? await readCleanResult(opts.clean, opts.data) : undefined;
  const held = [...(opts.exclude ?? []), ...(opts.holdout ?? [])];
  const set = await loadTrainingSet(opts.data, { exclude: held, clean });
  const validationSet = opts.holdout?.length ? await loadTrainingSet(opts.data, { only: opts.holdout, exclude: opts.exclude, clean }) : undefined;
  const out = path.resolve(opts.out ?? path.join(appDataDir(), 'training', `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  await fs.mkdir(out, { recursive: true });

  const defaults = kind === 'triplet' ? DEFAULT_LEARNING.triplet : opts.whiteningForm === 'diagonal' ? DEFAULT_LEARNING.diagonalWhitening : DEFAULT_LEARNING.whitening;
  const training: TripletTrainingOptions = {
    ...DEFAULT_TRIPLET_OPTIONS,
    ...defaults,
    epochs: opts.epochs ?? defaults.epochs,
    batchSize: opts.batch ?? defaults.batchSize,
    learningRate: opts.lr ?? defaults.learningRate,
    margin: opts.margin ?? defaults.margin,
    remineEvery: opts.remineEvery ?? defaults.remineEvery,
    mining: { ...defaults.mining, negativePool: opts.negatives ?? defaults.mining.negativePool },
    seed: opts.seed,
    checkpointDir: out,
    resume: !!opts.resume,
    settings: { kind, data: path.resolve(opts.data), model: opts.model ?? null, exclude: held, clean: opts.clean ?? null, dim: opts.dim, whiteningForm: opts.whiteningForm, ...(kind === 'whitening' ? { scales: (opts as WhiteningCliOptions).scales } : { train: (opts as TripletCliOptions).train, longSide: (opts as TripletCliOptions).longSide }) },
  };

  if (opts.resume) {
    const { checkpointSettingsDiffer } = await import('../train/tripletTrainer.js');
    const differing = await checkpointSettingsDiffer(out, training);
    if (differing.length) throw new Error(`the checkpoint in ${out} was made with other settings (${differing.join(', ')}); start afresh without --resume or use another --out`);
  }
  const progress = createProgressReporter(!opts.json);
  // Ctrl-C stops at the next step with a checkpoint, so the run can be continued with --resume.
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  const hooks = { onProgress: trainingProgress(progress), signal: stop.signal };
  let outcome: TrainingOutcome;
  try {
    outcome = kind === 'whitening'
      ? await trainWhitening(opts as WhiteningCliOptions, set, validationSet, training, progress, hooks)
      : await trainTriplet(opts as TripletCliOptions, set, validationSet, training, progress, hooks);
  } finally {
    progress.stop();
    process.off('SIGINT', onInterrupt);
  }

  const { renderTrainingReport } = await import('../train/trainingReport.js');
  const { saveWhitening } = await import('../engine/whitening.js');
  await saveWhitening(outcome.whitening, path.join(out, 'whitening'));
  const first = outcome.history.mining[0];
  const last = outcome.history.mining[outcome.history.mining.length - 1];

  const interrupted = !!outcome.history.interrupted;
  let registered: RegisteredModel | undefined;
  const name = opts.name ?? `${outcome.baseName}+${kind === 'whitening' ? 'learned-whitening' : `triplet-${outcome.trained.replace(':', '')}`}`;
  if (opts.register && !interrupted) {
    const { registerTrainedModel } = await import('../train/trainedModelExport.js');
    const { defaultRegistry } = await import('../engine/modelResolver.js');
    registered = await registerTrainedModel({
      registry: defaultRegistry(),
      backbone: outcome.backbone,
      whitening: outcome.whitening,
      name,
      source: `trained (${kind}, ${outcome.trained}) from ${outcome.source} on ${path.resolve(opts.data)}`,
      licence: outcome.licence,
      normalisation: outcome.normalisation,
      provenance: { kind, base: outcome.base, trained: outcome.trained, data: path.resolve(opts.data), excluded: held, margin: training.margin, steps: outcome.history.totalSteps },
    });
    if (opts.use) await updateSettings({ model: registered.meta.id });
  }

  const facts: Array<[string, string]> = [
    ['model', registered ? `${registered.meta.id} (${registered.meta.name})` : interrupted ? 'not registered: stopped before the last step' : 'not registered (--no-register)'],
    ['started from', outcome.source],
    ['trained', `${kind}: ${outcome.trained}`],
    ['data', `${path.resolve(opts.data)}: ${outcome.images} photos, ${outcome.anchors} anchors, ${set.classes.length} classes${held.length ? `; never trained on: ${held.join(', ')}` : ''}`],
    ['cleaning', set.cleaning ? `${set.cleaning.file}: ${set.cleaning.demoted} memberships unverified` : 'none (every class member is a positive)'],
    ['settings', `margin ${training.margin}, batch ${training.batchSize} triplets, Adam lr ${training.learningRate}, re-mining every ${training.remineEvery} steps among the ${training.mining.negativePool} hardest negatives, ${training.epochs} epochs`],
    ['backend', backend.summary],
    ['time', `${outcome.history.seconds.toFixed(1)} s of training`],
  ];
  await fs.writeFile(path.join(out, 'curve.html'), renderTrainingReport(outcome.history, { title: `Sightline training: ${name}`, facts }));
  const summary = {
    model: registered?.meta.id ?? null,
    name,
    base: outcome.base,
    kind,
    trained: outcome.trained,
    backend: backend.name,
    backendPackage: backend.package,
    data: path.resolve(opts.data),
    excluded: held,
    photos: outcome.images,
    anchors: outcome.anchors,
    steps: outcome.history.totalSteps,
    stepsDone: outcome.history.losses.length,
    interrupted,
    seconds: Number(outcome.history.seconds.toFixed(2)),
    trainingMAP: { before: first?.trainingMAP ?? null, after: last?.trainingMAP ?? null },
    validationMAP: { before: first?.validationMAP ?? null, after: last?.validationMAP ?? null },
    out,
    curve: path.join(out, 'curve.html'),
  };
  await fs.writeFile(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (opts.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  if (interrupted) {
    console.log(`Stopped at step ${outcome.history.losses.length} of ${outcome.history.totalSteps}; a checkpoint is in ${out}. Continue with the same command plus --resume --out ${out}.`);
    return;
  }
  const pct = (v: number | undefined) => (v === undefined ? '–' : (100 * v).toFixed(1));
  console.log(`Trained ${kind} (${outcome.trained}) on ${outcome.images} photos in ${outcome.history.seconds.toFixed(1)} s: training mAP ${pct(first?.trainingMAP)} → ${pct(last?.trainingMAP)}${first?.validationMAP !== undefined ? `, validation mAP ${pct(first.validationMAP)} → ${pct(last?.validationMAP)}` : ''}.`);
  console.log(registered
    ? `Registered ${registered.meta.id} (${registered.meta.name}).${opts.use ? ' Now in use.' : ` Use it with \`sightline model use ${registered.meta.id}\` or --model ${registered.meta.id}.`}`
    : 'Not registered (--no-register).');
  console.log(`Learning curve: ${path.join(out, 'curve.html')}`);
}

type RunnerHooks = { onProgress: ReturnType<typeof trainingProgress>; signal: AbortSignal };

function trainingProgress(progress: ProgressReporter) {
  return (p: { phase: string; step: number; totalSteps: number; loss?: number }) => {
    if (p.phase === 'step') progress.update(`train${p.loss === undefined ? '' : ` (loss ${p.loss.toFixed(4)})`}`, p.step, p.totalSteps);
    else if (p.phase === 'mine') progress.update('mine', p.step, p.totalSteps);
  };
}

async function trainWhitening(opts: WhiteningCliOptions, set: TrainingSet, validationSet: TrainingSet | undefined, training: TripletTrainingOptions, progress: ProgressReporter, hooks: RunnerHooks): Promise<TrainingOutcome> {
  const { resolveModel } = await import('../engine/modelResolver.js');
  const { EnginePool } = await import('../engine/enginePool.js');
  const { TripletRelations } = await import('../train/trainingSet.js');
  const { describeRegions, fitPcaOnRegions, learnWhitening } = await import('../train/whiteningTraining.js');
  const model = await resolveModel(opts.model);
  const pool = new EnginePool(model);
  try {
    const described = await describeRegions(pool, set.images, opts.scales, (d, t) => progress.update('describe', d, t));
    for (const s of described.skipped) console.error(`skipped ${s.image.path}: ${s.reason}`);
    const validation = validationSet ? await describeRegions(pool, validationSet.images, opts.scales, (d, t) => progress.update('describe held-out', d, t)) : undefined;
    const relations = new TripletRelations(described.images);
    const initial = await fitPcaOnRegions(described.regions, { dim: opts.dim, epsilon: 0.1, fittedOn: `PCA on ${described.images.length} photos under ${opts.data}` });
    const result = await learnWhitening(described.regions, relations, {
      initial,
      training,
      label: `learned with the triplet loss on ${described.images.length} photos under ${opts.data}`,
      form: opts.whiteningForm as 'full' | 'diagonal',
      validation: validation ? { regions: validation.regions, relations: new TripletRelations(validation.images) } : undefined,
    }, hooks);
    return {
      whitening: result.whitening,
      history: result.history,
      backbone: model,
      base: model.meta.id,
      baseName: model.meta.name,
      source: `${model.meta.name} (${model.meta.id})`,
      licence: model.meta.licence,
      normalisation: model.meta.normalisation,
      trained: 'whitening',
      images: described.images.length,
      anchors: relations.anchors.length,
    };
  } finally {
    await pool.close();
  }
}

async function trainTriplet(opts: TripletCliOptions, set: TrainingSet, validationSet: TrainingSet | undefined, training: TripletTrainingOptions, progress: ProgressReporter, hooks: RunnerHooks): Promise<TrainingOutcome> {
  const { loadTrainableBackbone } = await import('../train/backboneSource.js');
  const { parseTrainedLayers, describeTrainedLayers } = await import('../train/trainableBackbone.js');
  const { fineTuneNetwork } = await import('../train/networkFineTuning.js');
  const { TripletRelations } = await import('../train/trainingSet.js');
  const layers = parseTrainedLayers(opts.train);
  const backbone = await loadTrainableBackbone(opts.model, { layer: opts.layer });
  try {
    const relations = new TripletRelations(set.images);
    const result = await fineTuneNetwork(backbone, set.images.map((i) => i.path), relations, {
      layers,
      longSide: opts.longSide,
      whiteningDim: opts.dim,
      whiteningEpsilon: 0.1,
      whiteningForm: opts.whiteningForm as 'full' | 'diagonal',
      training,
      validation: validationSet ? { files: validationSet.images.map((i) => i.path), relations: new TripletRelations(validationSet.images) } : undefined,
      label: `fine-tuned (${describeTrainedLayers(layers)}) with the triplet loss on ${set.images.length} photos under ${opts.data}`,
    }, { ...hooks, onCache: (d, t) => progress.update('frozen layers', d, t) });
    return {
      whitening: result.whitening,
      history: result.history,
      backbone: result.backbone ?? backbone.exportOnnx(),
      base: opts.model ?? 'default',
      baseName: path.basename(opts.model ?? 'default'),
      source: backbone.source,
      licence: backbone.licence,
      normalisation: backbone.normalisation,
      trained: describeTrainedLayers(layers),
      images: set.images.length,
      anchors: relations.anchors.length,
    };
  } finally {
    backbone.dispose();
  }
}
