// Fits a model's PCA-whitening on the region vectors of a set of photos and stores it beside
// the model, where DescriptorEngine picks it up. The set must not be the one searched in an
// evaluation (DESIGN.md §1.1 step 5); in the product it is the user's own library.
import type { DescribeOptions, RawDescription } from './featureExtractor.js';
import { fitWhiteningOnVectors, type Whitening } from './whitening.js';

export interface PhotoDescriber {
  describe(source: string, options?: DescribeOptions): Promise<RawDescription>;
}

export interface WhiteningFitReport {
  whitening: Whitening;
  photos: number;
  regions: number;
  skipped: { file: string; reason: string }[];
}

export async function fitWhiteningOnPhotos(
  engine: PhotoDescriber,
  files: string[],
  options: { dim?: number; epsilon?: number; scales?: number[]; label?: string; concurrency?: number },
  onProgress: (done: number, total: number) => void = () => {},
): Promise<WhiteningFitReport> {
  const vectors: Float32Array[] = [];
  const skipped: WhiteningFitReport['skipped'] = [];
  let done = 0;
  let photos = 0;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      try {
        const raw = await engine.describe(file, { scales: options.scales ?? [512] });
        for (const s of raw.scales) for (const r of s.regions) vectors.push(r.vector);
        photos++;
      } catch (e) {
        skipped.push({ file, reason: (e as Error).message });
      }
      onProgress(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, files.length) }, worker));
  if (vectors.length < 2) throw new Error(`no usable photos to fit whitening on (${skipped.length} skipped)`);
  const whitening = await fitWhiteningOnVectors(vectors, {
    dim: options.dim,
    epsilon: options.epsilon,
    fittedOn: options.label ?? `${photos} photos`,
  });
  return { whitening, photos, regions: vectors.length, skipped };
}
