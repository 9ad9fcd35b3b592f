// A trained RPN head goes back into the engine as a model of kind 'rpn': the backbone it was
// trained on (its ONNX unchanged) plus the head's ONNX, anchors and proposal settings, in a folder
// of its own. The id covers all of them (modelIdFor), so a new head, or another top K, is a new
// model and the library re-embeds. A whitening that ships with the base model (a trained one's)
// ships with this one too: it maps the same C-dim region vectors, whichever regions they pool.
import fs from 'node:fs/promises';
import type { ConvertedModel } from '../convert/convertedModel.js';
import { shippedWhiteningPath } from '../engine/descriptorEngine.js';
import type { ModelRegistry, RegisteredModel } from '../engine/modelRegistry.js';
import { DEFAULT_PROPOSAL_OPTIONS, type AnchorSpec, type ProposalOptions } from '../engine/rpnAnchors.js';

export interface RpnModelRequest {
  registry: ModelRegistry;
  /** The model whose backbone produced the head's training features (grid or RPN: only its backbone is used). */
  base: RegisteredModel;
  /** exportRpnHeadOnnx's output. */
  head: Uint8Array;
  anchors: AnchorSpec;
  /** Top K and NMS IoU of the pooled proposals; defaults: DEFAULT_PROPOSAL_OPTIONS (K = 20, about the grid's count). */
  proposals?: Partial<ProposalOptions>;
  name?: string;
  where?: 'builtin' | 'user';
}

export async function registerRpnModel(request: RpnModelRequest): Promise<RegisteredModel> {
  const { base } = request;
  const backbone: ConvertedModel = {
    onnx: new Uint8Array(await fs.readFile(base.onnxPath)),
    inputName: base.meta.inputName,
    outputName: base.meta.outputName,
    featureLayer: base.meta.featureLayer,
    channels: base.meta.channels,
    stride: base.meta.stride,
  };
  const proposals = { ...DEFAULT_PROPOSAL_OPTIONS, ...request.proposals };
  const model = await request.registry.add(backbone, {
    name: request.name ?? `${base.meta.rpn ? base.meta.name.replace(/\+rpn$/, '') : base.meta.name}+rpn`,
    source: base.meta.source,
    licence: base.meta.licence,
    normalisation: base.meta.normalisation,
    quantisation: base.meta.quantisation,
    rpn: { onnx: request.head, anchors: { stride: request.anchors.stride, sizes: [...request.anchors.sizes], ratios: [...request.anchors.ratios] }, proposals, base: base.meta.rpn?.base ?? base.meta.id },
  }, request.where ?? 'user');
  const whitening = shippedWhiteningPath(base);
  if (await fs.access(`${whitening}.json`).then(() => true, () => false)) {
    for (const ext of ['.json', '.bin']) await fs.copyFile(`${whitening}${ext}`, `${shippedWhiteningPath(model)}${ext}`);
  }
  return model;
}
