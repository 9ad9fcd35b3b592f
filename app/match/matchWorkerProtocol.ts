// Messages between MatchPool and its worker threads.
import type { LocalFeatureOptions, LocalFeatures } from './localFeatures.js';
import type { PairVerification, VerifyOptions } from './geometricVerification.js';

export interface MatchWorkerInit {
  /** onnxruntime threads for the descriptor product (the rest of a worker is single-threaded). */
  threads: number;
}

export type MatchWorkerRequest =
  | { id: number; kind: 'features'; source: string | Uint8Array; options: LocalFeatureOptions }
  | { id: number; kind: 'verify'; a: LocalFeatures; b: LocalFeatures; options: VerifyOptions };

export type MatchWorkerReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'features'; id: number; features: LocalFeatures }
  | { type: 'verification'; id: number; verification: PairVerification }
  | { type: 'error'; id: number; error: { name: string; message: string; code?: string } };
