// What every converter hands to the model registry: the ONNX bytes plus the facts the engine
// needs to feed the network and read its feature map.

/** Per-channel input normalisation applied by preprocessing: x′ = (x − mean) / std, x being 0–255 RGB. */
export interface InputNormalisation {
  /** Per-channel mean on the 0–255 RGB scale. */
  mean: [number, number, number];
  /** Per-channel standard deviation on the 0–255 RGB scale. */
  std: [number, number, number];
}

export const NORMALISATIONS = {
  /** Keras MobileNet / Inception style: x / 127.5 − 1. */
  minusOneToOne: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } as InputNormalisation,
  /** x / 255. */
  zeroToOne: { mean: [0, 0, 0], std: [255, 255, 255] } as InputNormalisation,
  /** torchvision ImageNet mean/std on 0–255. */
  imagenet: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] } as InputNormalisation,
} as const;

export interface ConvertedModel {
  /** Serialised ONNX model. Input: float32 NCHW [1, 3, H, W] (dynamic H, W), already normalised. */
  onnx: Uint8Array;
  inputName: string;
  /** Output: float32 NCHW [1, C, h, w] feature map (or [1, K] for a classifier output). */
  outputName: string;
  /** The source layer / node whose activation the output is. */
  featureLayer: string;
  /** Channels C of the output. */
  channels: number;
  /** Total stride of the output relative to the input (1 for a classifier output). */
  stride: number;
}
