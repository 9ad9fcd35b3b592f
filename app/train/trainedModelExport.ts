// Every trained model goes back into the engine as ONNX, registered with its own content-hash id
// so the library sees it as a new model and re-embeds. The backbone comes out of app/convert
// (trained TF.js weights → ONNX); a backbone that was not trained is the base model's ONNX. The
// learned whitening ships in the model folder (the engine's `whitening.json/.bin`), and the ONNX
// carries a `sightline.training` metadata entry naming what was trained on what: that also gives
// a whitening-only model a different id from its base. Nothing time-dependent goes in, so the
// same training gives the same id.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';
import { shippedWhiteningPath } from '../engine/descriptorEngine.js';
import type { ModelRegistry, RegisteredModel } from '../engine/modelRegistry.js';
import { saveWhitening, type Whitening } from '../engine/whitening.js';

const { onnx } = onnxProto;

export const TRAINING_METADATA_KEY = 'sightline.training';

export interface TrainingProvenance {
  /** whitening | triplet */
  kind: string;
  /** The model it started from. */
  base: string;
  /** Layers trained: whitening, top:N, all. */
  trained: string;
  data: string;
  excluded: string[];
  margin: number;
  steps: number;
  /** Fingerprint of the learned whitening, so two runs that differ only there get two ids. */
  whiteningDigest: string;
}

/** Adds (or replaces) a metadata_props entry of a serialised ONNX model. */
export function withOnnxMetadata(bytes: Uint8Array, key: string, value: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const props = (model.metadataProps ?? []).filter((p) => p.key !== key);
  props.push(onnx.StringStringEntryProto.create({ key, value }));
  model.metadataProps = props;
  return onnx.ModelProto.encode(model).finish();
}

export function readOnnxMetadata(bytes: Uint8Array, key: string): string | undefined {
  return onnx.ModelProto.decode(bytes).metadataProps?.find((p) => p.key === key)?.value ?? undefined;
}

export function whiteningDigest(w: Whitening): string {
  const h = crypto.createHash('sha256');
  h.update(new Uint8Array(w.mean.buffer, w.mean.byteOffset, w.mean.byteLength));
  h.update(new Uint8Array(w.projection.buffer, w.projection.byteOffset, w.projection.byteLength));
  return h.digest('hex').slice(0, 16);
}

export interface ExportRequest {
  registry: ModelRegistry;
  /** The trained backbone from app/convert, or the base model whose ONNX is reused unchanged. */
  backbone: ConvertedModel | RegisteredModel;
  whitening: Whitening;
  name: string;
  source: string;
  licence: string;
  normalisation: InputNormalisation;
  provenance: Omit<TrainingProvenance, 'whiteningDigest'>;
}

function isRegistered(b: ConvertedModel | RegisteredModel): b is RegisteredModel {
  return 'meta' in b;
}

export async function registerTrainedModel(request: ExportRequest): Promise<RegisteredModel> {
  const { backbone } = request;
  const converted: ConvertedModel = isRegistered(backbone)
    ? {
        onnx: new Uint8Array(await fs.readFile(backbone.onnxPath)),
        inputName: backbone.meta.inputName,
        outputName: backbone.meta.outputName,
        featureLayer: backbone.meta.featureLayer,
        channels: backbone.meta.channels,
        stride: backbone.meta.stride,
      }
    : backbone;
  if (request.whitening.channels !== converted.channels) {
    throw new Error(`the whitening takes ${request.whitening.channels}-d regions, the backbone gives ${converted.channels}`);
  }
  const provenance: TrainingProvenance = { ...request.provenance, whiteningDigest: whiteningDigest(request.whitening) };
  const onnxBytes = withOnnxMetadata(converted.onnx, TRAINING_METADATA_KEY, JSON.stringify(provenance));
  const model = await request.registry.add({ ...converted, onnx: onnxBytes }, {
    name: request.name,
    source: request.source,
    licence: request.licence,
    normalisation: request.normalisation,
    kind: 'grid',
  }, 'user');
  await saveWhitening(request.whitening, shippedWhiteningPath(model));
  return model;
}
