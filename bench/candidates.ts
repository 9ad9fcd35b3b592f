// `npm run bench:candidates`: which registry-shipped weights, and which of their layers, make the
// best offline default. Every candidate is converted by our own converters from the nsfwjs npm
// package and evaluated like the default (Paris6k-mini, long side 512, external whitening).
// Writes bench/candidates.md, which bench/run.ts folds into results.md.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { convertGraphModel } from '../app/convert/tfjsGraphToOnnx.js';
import { convertLayersModel } from '../app/convert/kerasLayersToOnnx.js';
import { NORMALISATIONS } from '../app/convert/convertedModel.js';
import { readNsfwjsModel } from '../app/convert/nsfwjsWeights.js';
import { DEFAULT_MODEL_LAYER } from '../app/engine/defaultModel.js';
import { EnginePool } from '../app/engine/enginePool.js';
import { ModelRegistry, type RegisteredModel } from '../app/engine/modelRegistry.js';
import { evaluateParis6kMini } from '../app/eval/datasetEvaluation.js';
import { DEFAULT_EVAL_SETTINGS } from '../app/eval/retrievalEvaluation.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const shared = path.resolve(root, '..', 'shared');
const paris = path.join(shared, 'data', 'paris6k-mini');
const external = [path.join(shared, 'data', 'near-dup'), path.join(shared, 'data', 'scenes')].join(',');
const log = (line: string) => process.stderr.write(`[candidates] ${line}\n`);

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-candidates-'));
const registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });

interface Candidate {
  label: string;
  build: () => Promise<RegisteredModel>;
}

const graphLayer = (layer: string): Candidate => ({
  label: `nsfwjs mobilenet_v2_mid @ ${layer}`,
  build: async () => {
    const c = convertGraphModel(await readNsfwjsModel('mobilenet_v2_mid'), { outputNode: layer });
    return registry.add(c, { name: layer, source: 'nsfwjs', licence: 'MIT', normalisation: c.inputNormalisation });
  },
});

const layersModel = (name: 'mobilenet_v2' | 'inception_v3', layer: string): Candidate => ({
  label: `nsfwjs ${name} @ ${layer}`,
  build: async () => {
    const src = await readNsfwjsModel(name);
    const c = convertLayersModel({ modelJson: src.modelJson, weights: src.weights }, { outputLayer: layer });
    // nsfwjs feeds its layers-models x/255 (core.js normalizationOffset); those Keras models have no rescaling layer.
    return registry.add(c, { name: `${name}@${layer}`, source: 'nsfwjs', licence: 'MIT', normalisation: NORMALISATIONS.zeroToOne });
  },
});

const candidates: Candidate[] = [
  graphLayer('expanded_conv_9/expand/Relu6'),
  graphLayer(DEFAULT_MODEL_LAYER),
  graphLayer('expanded_conv_12/expand/Relu6'),
  graphLayer('expanded_conv_13/expand/Relu6'),
  graphLayer('expanded_conv_14/expand/Relu6'),
  graphLayer('Conv_1/Relu6'),
  layersModel('inception_v3', 'mixed7'),
];

const rows: string[] = [];
for (const c of candidates) {
  try {
    const model = await c.build();
    const pool = new EnginePool(model);
    const t = Date.now();
    try {
      const r = await evaluateParis6kMini(paris, pool, DEFAULT_EVAL_SETTINGS, undefined, external);
      const A = r.results.A;
      const B = r.results.B;
      rows.push(`| ${c.label}${c.label.endsWith(DEFAULT_MODEL_LAYER) ? ' **(default)**' : ''} | ${model.meta.channels} / ${model.meta.stride} | ${A.rmac} / ${B.rmac} | ${A.rmac_pcaw} / ${B.rmac_pcaw} | ${A.rmac_pcaw_multires} / ${B.rmac_pcaw_multires} | ${r.ms_per_image} |`);
      log(`${c.label}: rmac ${A.rmac}/${B.rmac}, pcaw ${A.rmac_pcaw}/${B.rmac_pcaw} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    } finally {
      await pool.close();
    }
  } catch (e) {
    rows.push(`| ${c.label} | – | failed: ${(e as Error).message.split('\n')[0]} | | | |`);
    log(`${c.label}: ${(e as Error).message}`);
  }
}
await fs.rm(tmp, { recursive: true, force: true });

const md = [
  '## Offline default: candidates from registry-shipped weights',
  '',
  `Measured by \`npm run bench:candidates\` on ${new Date().toISOString().slice(0, 10)}. These are mAP % on Paris6k-mini, A / B, at long side 512, with external whitening (near-dup + scenes). Every candidate was fine-tuned away from ImageNet for NSFW classification. Mid-level layers keep more generic, spatially precise features than the last ones.`,
  '',
  '| candidate | channels / stride | R-MAC | R-MAC + whitening | + multi-resolution | network + pooling ms/image (2 workers) |',
  '|---|---|---|---|---|---:|',
  ...rows,
];
await fs.writeFile(path.join(root, 'bench', 'candidates.md'), md.join('\n') + '\n');
log('wrote bench/candidates.md');
