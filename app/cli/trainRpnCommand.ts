// `sightline train rpn --data <dataset> --clean <file>`: trains the Region Proposal Network head
// (DESIGN.md §1.4) on the boxes `sightline clean` wrote, on top of the frozen backbone, writes
// its checkpoint (rpn-head.json), the head as ONNX (rpn-head.onnx) and a summary, and, given
// --holdout, reports proposal recall on the held-out classes against the rigid grid. Unless told
// --no-register it registers backbone + head as a model of kind 'rpn', whose descriptors pool the
// top-K proposals instead of the grid, as `sightline train whitening` registers what it trains.
// TF.js and the training code load only when the command runs, as for the other `train` subcommands.
import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { appDataDir } from '../paths.js';
import { updateSettings } from '../settings.js';
import { positiveInt } from './cliOptions.js';
import { createProgressReporter } from './progressReporter.js';

interface TrainRpnOptions {
  data: string;
  clean: string;
  model?: string;
  epochs?: number;
  hidden?: number;
  lr?: number;
  longSide: number;
  holdout?: string[];
  seed: number;
  out?: string;
  topK: number;
  nmsIou: number;
  name?: string;
  register: boolean;
  use?: boolean;
  backend?: string;
  json?: boolean;
}

const positiveNumber = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const iouThreshold = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('--nms-iou must be in (0, 1]');
  return n;
};

/** Adds `rpn` under the `train` command. */
export function registerTrainRpnCommand(train: Command): void {
  train.command('rpn')
    .description('train the region proposal network head on the boxes `sightline clean` found (frozen backbone)')
    .requiredOption('--data <dir>', 'the dataset `sightline clean` ran on (one subfolder per class)')
    .requiredOption('--clean <file>', '`sightline clean --out` report: its kept photos\' boxes are the training targets')
    .option('--model <id|path>', 'backbone whose features the head reads (default: the model in use)')
    .option('--epochs <n>', 'passes over the photos', positiveInt('--epochs'))
    .option('--hidden <n>', 'channels of the head\'s 3×3 conv', positiveInt('--hidden'))
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'))
    .option('--long-side <px>', 'long side S the photos are seen at', positiveInt('--long-side'), 512)
    .option('--holdout <names>', 'classes never trained on; proposal recall vs the grid is measured on them (comma-separated)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
    .option('--out <dir>', 'rpn-head.json, rpn-head.onnx and summary.json (default: a new folder under <app data>/training)')
    .option('--top-k <n>', 'proposals the registered model pools per photo and scale, instead of the grid\'s ~20 regions', positiveInt('--top-k'), 20)
    .option('--nms-iou <x>', 'non-maximum suppression IoU of the registered model\'s proposals', iouThreshold, 0.7)
    .option('--name <name>', 'name of the registered model (default: <backbone name>+rpn)')
    .option('--no-register', 'only write the head; do not register backbone + head as a model of kind rpn')
    .option('--use', 'make the registered model the one every command (and the library) uses')
    .option('--backend <name>', 'TF.js backend: auto | gpu | node | wasm | cpu (default auto)')
    .option('--json', 'one JSON summary on stdout')
    .addHelpText('after', '\nBy default the trained head is registered with the backbone as a new model of kind rpn (its own\nid: a new head or other --top-k / --nms-iou is another model). Its descriptors max-pool the\ntop-K proposals instead of the rigid grid; a photo where none survives is pooled over the grid.\nSwitching the library to it (--use, or `sightline model use <id>`) re-embeds every photo.')
    .action((opts: TrainRpnOptions) => runTrainRpn(opts));
}

export async function runTrainRpn(opts: TrainRpnOptions): Promise<void> {
  const backends = await import('../train/trainingBackend.js');
  const preference = opts.backend ?? process.env.SIGHTLINE_TRAIN_BACKEND;
  if (preference && !(backends.BACKEND_PREFERENCES as readonly string[]).includes(preference)) throw new InvalidArgumentError(`--backend must be one of ${backends.BACKEND_PREFERENCES.join(', ')}`);
  const backend = await backends.selectTrainingBackend({ prefer: preference as (typeof backends.BACKEND_PREFERENCES)[number] | undefined });
  console.error(backend.summary);

  const { DEFAULT_RPN_TRAINING, extractFeatureMaps, readCleanBoxes, trainRpnHead } = await import('../train/rpnTraining.js');
  const { evaluateProposalRecall } = await import('../train/rpnEvaluation.js');
  const { defaultRegistry, resolveModel } = await import('../engine/modelResolver.js');
  const boxes = await readCleanBoxes(opts.clean, opts.data);
  const held = new Set(opts.holdout ?? []);
  const unknown = [...held].filter((c) => !boxes.some((b) => b.class === c));
  if (unknown.length) throw new InvalidArgumentError(`--holdout: no kept photo with a box in ${unknown.join(', ')}`);
  const model = await resolveModel(opts.model);
  const out = path.resolve(opts.out ?? path.join(appDataDir(), 'training', `rpn-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  await fs.mkdir(out, { recursive: true });

  const progress = createProgressReporter(!opts.json);
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  const options = { ...DEFAULT_RPN_TRAINING, epochs: opts.epochs ?? DEFAULT_RPN_TRAINING.epochs, hidden: opts.hidden ?? DEFAULT_RPN_TRAINING.hidden, learningRate: opts.lr ?? DEFAULT_RPN_TRAINING.learningRate, seed: opts.seed, checkpointDir: out };
  let summary: Record<string, unknown>;
  try {
    const photos = await extractFeatureMaps(model, boxes, { longSide: opts.longSide, onProgress: (d, t) => progress.update('backbone features', d, t) });
    const train = photos.filter((p) => !held.has(p.class));
    const test = photos.filter((p) => held.has(p.class));
    const { head, history } = await trainRpnHead(train, options, {
      signal: stop.signal,
      onProgress: (p) => progress.update(`epoch ${p.epoch}/${p.epochs} (loss ${p.loss.toFixed(4)})`, p.step, p.steps),
      checkpointExtras: { longSide: opts.longSide, model: model.meta.id },
    });
    const recall = test.length ? await evaluateProposalRecall(head, test, options.anchors, [1, 5, 10, 20, 50, 100]) : undefined;
    // The same head as an ONNX graph (features → objectness, deltas) for onnxruntime inference.
    const { exportRpnHeadOnnx } = await import('../train/rpnExport.js');
    const headOnnx = await exportRpnHeadOnnx(head);
    await fs.writeFile(path.join(out, 'rpn-head.onnx'), headOnnx);
    head.dispose();
    // A head cut short by Ctrl-C is only the checkpoint: registering it would make a model nobody asked for.
    let registered: import('../engine/modelRegistry.js').RegisteredModel | undefined;
    if (opts.register && !stop.signal.aborted) {
      const { registerRpnModel } = await import('../train/rpnModelExport.js');
      registered = await registerRpnModel({ registry: defaultRegistry(), base: model, head: headOnnx, anchors: options.anchors, proposals: { topK: opts.topK, nmsIou: opts.nmsIou }, name: opts.name });
      if (opts.use) await updateSettings({ model: registered.meta.id });
    }
    summary = {
      checkpoint: path.join(out, 'rpn-head.json'),
      onnx: path.join(out, 'rpn-head.onnx'),
      registered: registered ? { id: registered.meta.id, name: registered.meta.name, kind: registered.meta.kind, dir: registered.dir, topK: opts.topK, nmsIou: opts.nmsIou, inUse: !!opts.use } : null,
      model: model.meta.id,
      backend: backend.name,
      data: path.resolve(opts.data),
      clean: path.resolve(opts.clean),
      trainPhotos: train.length,
      heldOut: [...held],
      heldOutPhotos: test.length,
      epochs: history.epochs,
      interrupted: stop.signal.aborted,
      seconds: Number(history.seconds.toFixed(2)),
      recall: recall ?? null,
    };
  } finally {
    progress.stop();
    process.off('SIGINT', onInterrupt);
  }
  await fs.writeFile(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (opts.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  const epochs = summary.epochs as Array<{ total: number }>;
  console.log(`Trained the RPN head on ${summary.trainPhotos} photos in ${summary.seconds} s: loss ${epochs[0]?.total.toFixed(4)} → ${epochs[epochs.length - 1]?.total.toFixed(4)}. Checkpoint: ${summary.checkpoint}`);
  const registered = summary.registered as { id: string; name: string } | null;
  if (registered) console.log(`Registered ${registered.id} (${registered.name}): pools the top ${opts.topK} proposals (NMS IoU ${opts.nmsIou}) instead of the grid.${opts.use ? ' Now in use.' : ` Use it with \`sightline model use ${registered.id}\` or --model ${registered.id}.`}`);
  else console.log(summary.interrupted ? 'Not registered: stopped before the last epoch.' : 'Not registered (--no-register).');
  const recall = summary.recall as import('../train/rpnEvaluation.js').RecallReport | null;
  if (recall) {
    console.log(`\nProposal recall on ${recall.photos} held-out photos (${[...held].join(', ')}):`);
    console.log('regions          K   IoU≥0.5  IoU≥0.7');
    for (const r of recall.rows) console.log(`${(r.method === 'grid' ? 'rigid grid' : 'RPN top-K').padEnd(12)} ${(r.method === 'grid' ? r.k.toFixed(1) : String(r.k)).padStart(5)}  ${r.recall.map((v) => `${(100 * v).toFixed(1).padStart(6)} %`).join(' ')}`);
  }
}
