// One-off: derives the expected MobileNetV2 α0.35 backbone tensor table and its pinned weights
// hash (app/engine/recommendedModel.ts) from the shared Teachable Machine model, whose backbone
// `model3` carries exactly the official Keras 0.35 no_top weights. Written independently of the
// app code on purpose, so the app's hashing is cross-checked by a second implementation.
//   node --import tsx bench/pinMobilenetV2Backbone.ts [modelDir] [outJson]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = process.argv[2] ?? path.resolve(root, '../shared/weights/mobilenet-v2-0.35-keras');
const outJson = process.argv[3] ?? path.join(root, 'app/engine/mobilenetV2Alpha035Backbone.json');

interface LayerJson { name?: string; class_name: string; config: { name?: string; layers?: LayerJson[] } }
interface Weight { name: string; shape: number[]; dtype: string; quantization?: unknown }

const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as {
  modelTopology: LayerJson;
  weightsManifest: Array<{ paths: string[]; weights: Weight[] }>;
};

// The backbone is the nested model that contains `out_relu`; its layer names decide which
// weights count (the classification head's dense layers live outside it).
function findBackbone(layer: LayerJson): LayerJson | undefined {
  const layers = layer.config.layers;
  if (!layers) return undefined;
  if (layers.some((l) => (l.config.name ?? l.name) === 'out_relu')) return layer;
  for (const l of layers) {
    const found = findBackbone(l);
    if (found) return found;
  }
  return undefined;
}
const backbone = findBackbone(modelJson.modelTopology);
if (!backbone) throw new Error('no nested model containing out_relu');
const backboneLayers = new Set(backbone.config.layers!.map((l) => l.config.name ?? l.name));

const stripped = (name: string) => name.replace(/:\d+$/, '').split('/').slice(-2).join('/');

const tensors: Array<{ name: string; shape: number[]; bytes: Buffer }> = [];
let ignored = 0;
for (const group of modelJson.weightsManifest) {
  const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
  let offset = 0;
  for (const w of group.weights) {
    if (w.dtype !== 'float32' || w.quantization) throw new Error(`${w.name}: only unquantised float32 expected`);
    const size = w.shape.reduce((a, b) => a * b, 1) * 4;
    const name = stripped(w.name);
    if (backboneLayers.has(name.split('/')[0])) tensors.push({ name, shape: w.shape, bytes: data.subarray(offset, offset + size) });
    else ignored++;
    offset += size;
  }
  if (offset !== data.length) throw new Error(`group ${group.paths.join(',')}: ${data.length} bytes, manifest says ${offset}`);
}
tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const hash = crypto.createHash('sha256');
for (const t of tensors) {
  hash.update(`${t.name}\n${t.shape.join('x')}\n`);
  hash.update(t.bytes); // tfjs shards are little-endian float32 already
}
const sha256 = hash.digest('hex');

const lines = tensors.map((t) => `    ${JSON.stringify(t.name)}: ${JSON.stringify(t.shape)}`);
fs.writeFileSync(
  outJson,
  `{\n  "alpha": 0.35,\n  "outputLayer": "out_relu",\n  "sha256": "${sha256}",\n  "tensors": {\n${lines.join(',\n')}\n  }\n}\n`,
);
const floats = tensors.reduce((a, t) => a + t.bytes.length / 4, 0);
console.log(`${tensors.length} backbone tensors (${floats} floats), ${ignored} head tensors ignored`);
console.log(`sha256 ${sha256}`);
console.log(`wrote ${path.relative(root, outJson)}`);
