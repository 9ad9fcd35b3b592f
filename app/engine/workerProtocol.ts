// Messages between the engine pool and its inference workers.
import type { ImageSource } from './imageInput.js';
import type { InputNormalisation } from '../convert/convertedModel.js';
import type { DescribeOptions, RawDescription } from './featureExtractor.js';
import type { RpnMetadata } from './modelRegistry.js';

export interface WorkerInit {
  onnxPath: string;
  inputName: string;
  outputName: string;
  stride: number;
  normalisation: InputNormalisation;
  /** An RPN model: its head's ONNX, run in the same worker after the backbone, and its settings. */
  rpn?: { headPath: string } & Pick<RpnMetadata, 'anchors' | 'proposals'>;
  threads: number;
  executionProviders: string[];
}

export interface WorkerRequest {
  id: number;
  source: ImageSource;
  options: DescribeOptions;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'result'; id: number; result: RawDescription }
  | { type: 'error'; id: number; error: { name: string; message: string; code?: string } };
