// `npm run bench:learn`: what the learned parts (DESIGN.md §1.3) add on Paris6k-mini, measured
// leave-one-landmark-out: for each landmark folder, everything is trained on the other four and
// only that folder's queries are evaluated (against all 250 photos, as `sightline eval`). Rows:
// R-MAC without whitening, PCA-whitening fitted on the training folds (the fair baseline), the
// learned whitening (shift + FC trained with the triplet loss on frozen features, from that PCA),
// and triplet fine-tuning of the backbone's top units with the whitening. Writes its section of
// bench/results.md between the learning markers.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EnginePool } from '../app/engine/enginePool.js';
import { DEFAULT_MODEL_MARKER, defaultRegistry, resolveModel } from '../app/engine/modelResolver.js';
import { builtinModelsDir } from '../app/paths.js';
import { ModelRegistry, type RegisteredModel } from '../app/engine/modelRegistry.js';
import type { Whitening } from '../app/engine/whitening.js';
import { loadParis6kMini, type EvalProtocol } from '../app/eval/protocols.js';
import { loadTrainableBackbone } from '../app/train/backboneSource.js';
import { describeProtocolPhotos, meanAPByFold, pcaOutsideFold, protocolDescriptors, type FoldDescriptors, type ProtocolPhotos } from '../app/train/foldEvaluation.js';
import { fineTuneNetwork } from '../app/train/networkFineTuning.js';
import { describeTrainedLayers, parseTrainedLayers } from '../app/train/trainableBackbone.js';
import { registerTrainedModel } from '../app/train/trainedModelExport.js';
import { selectTrainingBackend } from '../app/train/trainingBackend.js';
import { loadTrainingSet, TripletRelations } from '../app/train/trainingSet.js';
import { DEFAULT_TRIPLET_OPTIONS, type TripletTrainingOptions } from '../app/train/tripletTrainer.js';
import { learnWhitening, regionsOf } from '../app/train/whiteningTraining.js';
import { DEFAULT_LEARNING } from '../app/train/learningDefaults.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const paris = path.resolve(root, '..', 'shared', 'data', 'paris6k-mini');
const recommendedWeights = path.resolve(root, '..', 'shared', 'weights', 'mobilenet-v2-0.35-keras');
const log = (line: string) => process.stderr.write(`[bench:learn] ${line}\n`);
const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const LONG_SIDE = 512;
/** The PCA rows of `npm run bench` fit on regions of these scales; so does the baseline here. */
const PCA_SCALES = [362, 512, 724];
const PROTOCOLS = ['A', 'B'] as const;

interface Row {
  part: 'whitening' | 'triplet';
  label: string;
  A: number;
  B: number;
  trainSeconds?: number;
  note?: string;
}

const WHITENING_VARIANTS = [
  { label: 'learned whitening, full D × D (triplet loss, from that PCA)', settings: DEFAULT_LEARNING.whitening },
  { label: 'learned whitening, diagonal (rescaled PCA components)', settings: DEFAULT_LEARNING.diagonalWhitening },
] as const;

function trainingOptions(settings: (typeof WHITENING_VARIANTS)[number]['settings'], epochs: number | undefined): TripletTrainingOptions {
  return { ...DEFAULT_TRIPLET_OPTIONS, ...settings, epochs: epochs ?? settings.epochs, seed: 1, checkpointDir: undefined };
}

async function whiteningRows(model: RegisteredModel, protocols: Record<'A' | 'B', EvalProtocol>, folds: string[], epochs: number | undefined): Promise<{ rows: Row[]; describeSeconds: number; curves: string[] }> {
  const pool = new EnginePool(model);
  let raw: ProtocolPhotos;
  const t0 = performance.now();
  try {
    raw = await describeProtocolPhotos(pool, protocols, PCA_SCALES, LONG_SIDE);
  } finally {
    await pool.close();
  }
  const describeSeconds = (performance.now() - t0) / 1000;
  log(`${model.meta.name}: described ${raw.database.size} photos at ${PCA_SCALES.join('/')} px in ${describeSeconds.toFixed(0)} s`);

  const pca = new Map<string, Whitening>();
  for (const fold of folds) pca.set(fold, await pcaOutsideFold(raw, protocols.A, fold));
  const rows: Row[] = [];
  for (const [label, w] of [['R-MAC, no whitening', undefined], ['PCA-whitening fitted on the training folds (baseline)', pca]] as const) {
    const r: Row = { part: 'whitening', label, A: 0, B: 0 };
    for (const p of PROTOCOLS) r[p] = (await meanAPByFold(protocols[p], async (fold) => protocolDescriptors(protocols[p], raw, w?.get(fold), LONG_SIDE))).mAP;
    rows.push(r);
    log(`${label}: A ${r.A} / B ${r.B}`);
  }
  const curves: string[] = [];
  for (const variant of WHITENING_VARIANTS) {
    const learned = new Map<string, Whitening>();
    let trainSeconds = 0;
    const perFold: string[] = [];
    for (const fold of folds) {
      const set = await loadTrainingSet(paris, { exclude: [fold] });
      const relations = new TripletRelations(set.images);
      const regions = set.images.map((img) => regionsOf(raw.database.get(img.id)!.find((s) => s.longSide === LONG_SIDE)!.regions.map((r) => r.vector)));
      const t = performance.now();
      const result = await learnWhitening(regions, relations, { initial: pca.get(fold)!, training: trainingOptions(variant.settings, epochs), form: variant.settings.form, label: `learned on Paris6k-mini without ${fold}` });
      const seconds = (performance.now() - t) / 1000;
      trainSeconds += seconds;
      learned.set(fold, result.whitening);
      const first = result.history.mining[0];
      const last = result.history.mining[result.history.mining.length - 1];
      perFold.push(`${fold} ${(100 * first.trainingMAP).toFixed(1)} → ${(100 * last.trainingMAP).toFixed(1)} (${result.history.totalSteps} steps, ${seconds.toFixed(0)} s)`);
      log(`${variant.label} without ${fold}: ${perFold[perFold.length - 1]}`);
    }
    const r: Row = { part: 'whitening', label: `${variant.label}; Adam lr ${variant.settings.learningRate}, ${epochs ?? variant.settings.epochs} epochs`, A: 0, B: 0, trainSeconds };
    for (const p of PROTOCOLS) r[p] = (await meanAPByFold(protocols[p], async (fold) => protocolDescriptors(protocols[p], raw, learned.get(fold), LONG_SIDE))).mAP;
    rows.push(r);
    log(`${r.label}: A ${r.A} / B ${r.B}`);
    curves.push(`${variant.label}, training mAP (training photos ranking each other) per fold: ${perFold.join('; ')}`);
  }
  return { rows, describeSeconds, curves };
}

async function tripletRows(model: RegisteredModel, backboneSpec: string | undefined, protocols: Record<'A' | 'B', EvalProtocol>, folds: string[], epochs: number, batchSize: number, layersSpec: string): Promise<{ rows: Row[]; notes: string[] }> {
  const layers = parseTrainedLayers(layersSpec);
  const registryDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-bench-learn-'));
  const registry = new ModelRegistry({ builtin: path.join(registryDir, 'builtin'), user: path.join(registryDir, 'user') });
  const descriptors = new Map<string, Map<'A' | 'B', FoldDescriptors>>();
  const notes: string[] = [];
  let trainSeconds = 0;
  let cacheSeconds = 0;
  try {
    for (const fold of folds) {
      const backbone = await loadTrainableBackbone(backboneSpec);
      try {
        const set = await loadTrainingSet(paris, { exclude: [fold] });
        const relations = new TripletRelations(set.images);
        const t = performance.now();
        const result = await fineTuneNetwork(backbone, set.images.map((i) => i.path), relations, {
          layers,
          longSide: LONG_SIDE,
          whiteningDim: 512,
          whiteningEpsilon: 0.1,
          training: { ...DEFAULT_TRIPLET_OPTIONS, ...DEFAULT_LEARNING.triplet, epochs, batchSize, seed: 1 },
          whiteningForm: DEFAULT_LEARNING.triplet.form,
          label: `fine-tuned on Paris6k-mini without ${fold}`,
        }, { onProgress: (p) => { if (p.phase === 'mine') log(`  ${fold}: step ${p.step}/${p.totalSteps} (mining)`); } });
        const seconds = (performance.now() - t) / 1000;
        trainSeconds += seconds;
        cacheSeconds += result.cacheSeconds;
        const first = result.history.mining[0];
        const last = result.history.mining[result.history.mining.length - 1];
        notes.push(`${fold}: ${result.history.totalSteps} steps in ${seconds.toFixed(0)} s (frozen part cached in ${result.cacheSeconds.toFixed(0)} s); training mAP ${(100 * first.trainingMAP).toFixed(1)} → ${(100 * last.trainingMAP).toFixed(1)}`);
        log(`triplet without ${fold}: ${notes[notes.length - 1]}`);
        const registered = await registerTrainedModel({
          registry,
          backbone: result.backbone ?? model,
          whitening: result.whitening,
          name: `bench-${fold}`,
          source: backbone.source,
          licence: backbone.licence,
          normalisation: backbone.normalisation,
          provenance: { kind: 'triplet', base: model.meta.id, trained: describeTrainedLayers(layers), data: paris, excluded: [fold], margin: DEFAULT_LEARNING.triplet.margin, steps: result.history.totalSteps },
        });
        const pool = new EnginePool(registered);
        try {
          const raw = await describeProtocolPhotos(pool, protocols, [LONG_SIDE], LONG_SIDE);
          descriptors.set(fold, new Map(await Promise.all(PROTOCOLS.map(async (p) => [p, await protocolDescriptors(protocols[p], raw, result.whitening, LONG_SIDE)] as const))));
        } finally {
          await pool.close();
        }
      } finally {
        backbone.dispose();
      }
    }
  } finally {
    await fs.rm(registryDir, { recursive: true, force: true });
  }
  const row: Row = { part: 'triplet', label: `triplet fine-tuning: backbone ${describeTrainedLayers(layers)} + whitening (from PCA on the training photos); Adam lr ${DEFAULT_LEARNING.triplet.learningRate}, ${epochs} epochs of batch ${batchSize}`, A: 0, B: 0, trainSeconds, note: `frozen part cached in ${cacheSeconds.toFixed(0)} s` };
  for (const p of PROTOCOLS) row[p] = (await meanAPByFold(protocols[p], async (fold) => descriptors.get(fold)!.get(p)!)).mAP;
  return { rows: [row], notes };
}

interface Section {
  title: string;
  rows: Row[];
  notes: Array<{ part: Row['part']; text: string }>;
}

function markdown(sections: Section[], meta: { backend: string; minutes: number }): string {
  const lines: string[] = [];
  lines.push('<!-- learning:start (written by `npm run bench:learn`) -->');
  // The figures as data, so a run of one part (--parts) keeps the other part's rows.
  lines.push(`<!-- learning:data ${JSON.stringify(sections)} -->`);
  lines.push('## Learning: learned whitening and triplet fine-tuning', '');
  lines.push(`Written by \`npm run bench:learn\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${meta.backend}, ${meta.minutes.toFixed(1)} min in all.`, '');
  lines.push('Leave-one-landmark-out on Paris6k-mini: for each of the five landmark folders, whitening and training use only the other four (their ground-truth positives as classes, the junk lists as unsure) and only that folder\'s queries are evaluated, ranking all 250 photos. Long side 512, R-MAC L = 3, single resolution, no QE/DBA. The PCA row is the `rmac_pcaw` leave-one-landmark-out figure of the table above, refitted here identically (regions at 362/512/724 px of every photo outside the fold); the learned rows start from it. Training times are the sums over the five folds, on this CPU.', '');
  for (const s of sections) {
    lines.push(`### ${s.title}`, '');
    lines.push('| descriptor | A | B | training time (5 folds) |', '|---|---:|---:|---:|');
    for (const r of s.rows) lines.push(`| ${r.label} | ${r.A.toFixed(1)} | ${r.B.toFixed(1)} | ${r.trainSeconds === undefined ? '' : `${r.trainSeconds.toFixed(0)} s${r.note ? ` (${r.note})` : ''}`} |`);
    lines.push('');
    for (const n of s.notes) lines.push(`- ${n.text}`);
    lines.push('');
  }
  lines.push('<!-- learning:end -->');
  return lines.join('\n');
}

async function earlierSections(): Promise<Section[]> {
  const current = await fs.readFile(path.join(root, 'bench', 'results.md'), 'utf8').catch(() => '');
  const m = /<!-- learning:data (.*) -->/.exec(current);
  return m ? (JSON.parse(m[1]) as Section[]) : [];
}

/** This run's sections, with the rows and notes of parts it did not run taken from the last run. */
function mergeSections(now: Section[], before: Section[], parts: string[]): Section[] {
  return now.map((s) => {
    const old = before.find((b) => b.title === s.title);
    if (!old) return s;
    const keep = <T extends { part: Row['part'] }>(xs: T[]) => xs.filter((x) => !parts.includes(x.part));
    const order = (r: { part: Row['part'] }) => (r.part === 'whitening' ? 0 : 1);
    return { title: s.title, rows: [...keep(old.rows), ...s.rows].sort((a, b) => order(a) - order(b)), notes: [...keep(old.notes), ...s.notes].sort((a, b) => order(a) - order(b)) };
  });
}

async function writeSection(section: string): Promise<void> {
  const file = path.join(root, 'bench', 'results.md');
  const current = await fs.readFile(file, 'utf8').catch(() => '# Sightline benchmark results\n');
  const start = current.indexOf('<!-- learning:start');
  const end = current.indexOf('<!-- learning:end -->');
  const next = start >= 0 && end > start
    ? `${current.slice(0, start)}${section}${current.slice(end + '<!-- learning:end -->'.length)}`
    : `${current.trimEnd()}\n\n${section}\n`;
  await fs.writeFile(file, next);
}

async function main() {
  const started = performance.now();
  const backend = await selectTrainingBackend();
  log(backend.summary);
  const parts = (argValue('--parts') ?? 'whitening,triplet').split(',');
  const folds = (argValue('--folds') ?? 'defense,eiffel_tower,invalides,louvre,moulinrouge').split(',');
  const protocols = { A: await loadParis6kMini(paris, 'A'), B: await loadParis6kMini(paris, 'B') };
  const sections: Section[] = [];
  // Training moves float weights, so the float network of the offline default is the one to
  // compare against (the int8 default is quantised from it).
  const marker = JSON.parse(await fs.readFile(path.join(builtinModelsDir, DEFAULT_MODEL_MARKER), 'utf8').catch(() => '{}')) as { float?: string };
  const models: Array<{ label: string; model: RegisteredModel; backbone?: string }> = [
    { label: 'offline default, float32', model: marker.float ? await defaultRegistry().get(marker.float) : await resolveModel(), backbone: 'default' },
  ];
  if ((argValue('--models') ?? 'default').includes('recommended')) {
    models.push({ label: 'recommended (ImageNet MobileNetV2 0.35)', model: await resolveModel(recommendedWeights), backbone: recommendedWeights });
  }
  for (const m of models) {
    const rows: Row[] = [];
    const notes: Section['notes'] = [];
    if (parts.includes('whitening')) {
      const epochs = argValue('--whitening-epochs');
      const w = await whiteningRows(m.model, protocols, folds, epochs === undefined ? undefined : Number(epochs));
      rows.push(...w.rows);
      notes.push(...w.curves.map((c) => ({ part: 'whitening' as const, text: `${c}.` })));
    }
    if (parts.includes('triplet') && m.backbone) {
      // One unit by default: the bench trains five folds on two shared cores.
      const layers = argValue('--train') ?? 'top:1';
      const t = await tripletRows(m.model, m.backbone, protocols, folds, Number(argValue('--triplet-epochs') ?? DEFAULT_LEARNING.triplet.epochs), Number(argValue('--triplet-batch') ?? DEFAULT_LEARNING.triplet.batchSize), layers);
      rows.push(...t.rows);
      notes.push({ part: 'triplet', text: `Triplet fine-tuning per fold: ${t.notes.join('; ')}.` });
    }
    sections.push({ title: `${m.label} \`${m.model.meta.id}\``, rows, notes });
  }
  const minutes = (performance.now() - started) / 60000;
  const section = markdown(mergeSections(sections, await earlierSections(), parts), { backend: backend.summary, minutes });
  process.stdout.write(`${section}\n`);
  if (!process.argv.includes('--no-write') && folds.length === 5) await writeSection(section);
  log(`done in ${minutes.toFixed(1)} min`);
}

await main();
