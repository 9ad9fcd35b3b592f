// The engine as the rest of the product sees it: a photo (or a region of it) in, the global
// R-MAC descriptor and its per-region vectors out, computed in worker threads.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EnginePool, type EnginePoolOptions } from './enginePool.js';
import type { DescribeOptions, RawDescription } from './featureExtractor.js';
import type { ImageSource, PixelBox } from './imageInput.js';
import { appDataDir } from '../paths.js';
import type { RegisteredModel } from './modelRegistry.js';
import { aggregateRmac, regionEmbedding, type RegionSource } from './rmacDescriptor.js';
import { dot } from './vectorMath.js';
import { loadWhitening, type Whitening } from './whitening.js';

export interface RegionDescriptor {
  /** In the oriented original photo's pixels. */
  box: PixelBox;
  /** Long side of the scale it was pooled at. */
  longSide: number;
  /** Whitened (when a whitening exists) and L2-normalised: what the global vector sums. */
  vector: Float32Array;
  /** Its share of the global vector (dot product with it); the heatmaps draw this. */
  weight: number;
  /** An RPN proposal's σ(objectness logit); absent for a grid region. */
  objectness?: number;
}

export interface PhotoDescriptor {
  model: string;
  whitened: boolean;
  global: Float32Array;
  regions: RegionDescriptor[];
  /**
   * 'rpn': every scale pooled the model's proposals; 'grid-fallback': an RPN model's head proposed
   * nothing usable at some scale, which pooled the grid instead; 'grid': a grid model.
   */
  regionSource: RegionSource;
  originalWidth: number;
  originalHeight: number;
  timings: RawDescription['timings'];
}

/**
 * Where `sightline whiten` (and later the library) stores a whitening fitted for a model:
 * in the user's data dir, so the installed model folders are never written after install.
 */
export function whiteningPathFor(model: RegisteredModel, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(appDataDir(env), 'whitening', model.meta.id, 'whitening');
}

/** A whitening that ships inside the model's own folder (e.g. a trained model's). */
export function shippedWhiteningPath(model: RegisteredModel): string {
  return path.join(model.whiteningDir, 'whitening');
}

async function findWhitening(model: RegisteredModel): Promise<Whitening | undefined> {
  for (const file of [whiteningPathFor(model), shippedWhiteningPath(model)]) {
    if (await fs.access(`${file}.json`).then(() => true, () => false)) return loadWhitening(file);
  }
  return undefined;
}

function photoRegionSource(raw: RawDescription): RegionSource {
  const sources = raw.scales.map((s) => s.regionSource ?? 'grid');
  if (sources.includes('grid-fallback')) return 'grid-fallback';
  return sources.length > 0 && sources.every((s) => s === 'rpn') ? 'rpn' : 'grid';
}

export class DescriptorEngine {
  private constructor(readonly model: RegisteredModel, readonly pool: EnginePool, readonly whitening: Whitening | undefined, readonly defaultScales: number[]) {}

  static async open(model: RegisteredModel, options: EnginePoolOptions & { scales?: number[]; whitening?: Whitening | 'none' } = {}): Promise<DescriptorEngine> {
    let whitening: Whitening | undefined;
    if (options.whitening === 'none') whitening = undefined;
    else if (options.whitening) whitening = options.whitening;
    else whitening = await findWhitening(model);
    return new DescriptorEngine(model, new EnginePool(model, options), whitening, options.scales ?? [512]);
  }

  /**
   * What a stored descriptor was made with: the model id, plus a fingerprint of the whitening
   * when one is in use. Descriptors tagged otherwise are stale and get re-embedded.
   */
  get descriptorVersion(): string {
    if (!this.whitening) return this.model.meta.id;
    const h = crypto.createHash('sha256');
    h.update(new Uint8Array(this.whitening.mean.buffer, this.whitening.mean.byteOffset, this.whitening.mean.byteLength));
    h.update(new Uint8Array(this.whitening.projection.buffer, this.whitening.projection.byteOffset, this.whitening.projection.byteLength));
    return `${this.model.meta.id}+w${h.digest('hex').slice(0, 8)}`;
  }

  get dimension(): number {
    return this.whitening ? this.whitening.dim : this.model.meta.channels;
  }

  async describe(source: ImageSource, options: { box?: PixelBox; scales?: number[]; boxMode?: DescribeOptions['boxMode'] } = {}): Promise<PhotoDescriptor> {
    const raw = await this.pool.describe(source, { scales: options.scales ?? this.defaultScales, box: options.box, boxMode: options.boxMode });
    return this.fromRaw(raw);
  }

  fromRaw(raw: RawDescription): PhotoDescriptor {
    const global = aggregateRmac(raw.scales, this.whitening);
    const regions = raw.scales.flatMap((s) => s.regions.map((r) => {
      const vector = regionEmbedding(r.vector, this.whitening);
      const region: RegionDescriptor = { box: r.box, longSide: s.longSide, vector, weight: dot(vector, global) };
      if (r.objectness !== undefined) region.objectness = r.objectness;
      return region;
    }));
    return {
      model: this.model.meta.id,
      whitened: !!this.whitening,
      global,
      regions,
      regionSource: photoRegionSource(raw),
      originalWidth: raw.originalWidth,
      originalHeight: raw.originalHeight,
      timings: raw.timings,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
