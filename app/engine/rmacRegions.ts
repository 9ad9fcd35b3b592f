// The rigid R-MAC grid of Tolias et al. (ICLR 2016), exactly as DESIGN.md §1.1 step 3 writes it.
// Regions are squares in feature-map cells; all scales share one overlap target of 40 %.

export interface CellRegion {
  /** Left edge, in feature cells. */
  x: number;
  /** Top edge, in feature cells. */
  y: number;
  width: number;
  height: number;
}

export interface RmacGridOptions {
  /** Number of scales L (default 3). */
  levels?: number;
  /** Also pool the whole map as one more region (off by default, as in the paper). */
  includeFullImage?: boolean;
}

const OVERLAP = 0.4;
const STEPS = [2, 3, 4, 5, 6, 7];

export function rmacRegions(width: number, height: number, options: RmacGridOptions = {}): CellRegion[] {
  const levels = options.levels ?? 3;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`rmacRegions: feature map must be at least 1×1 cells, got ${width}×${height}`);
  }
  const w = Math.min(width, height);
  // Extra regions along the long side: the step count whose overlap is closest to 40 %.
  let bestSteps = STEPS[0];
  let bestGap = Infinity;
  for (const steps of STEPS) {
    const b = (Math.max(width, height) - w) / (steps - 1);
    const gap = Math.abs((w * w - w * b) / (w * w) - OVERLAP);
    if (gap < bestGap) {
      bestGap = gap;
      bestSteps = steps;
    }
  }
  const Wd = width > height ? bestSteps - 1 : 0;
  const Hd = height > width ? bestSteps - 1 : 0;

  const regions: CellRegion[] = [];
  for (let l = 1; l <= levels; l++) {
    const wl = Math.floor((2 * w) / (l + 1));
    if (wl === 0) continue;
    const wl2 = Math.floor(wl / 2 - 1);
    const xs = edges(width, wl, wl2, l + Wd);
    const ys = edges(height, wl, wl2, l + Hd);
    for (const y of ys) for (const x of xs) regions.push({ x, y, width: wl, height: wl });
  }
  if (options.includeFullImage) regions.push({ x: 0, y: 0, width, height });
  return regions;
}

function edges(extent: number, wl: number, wl2: number, count: number): number[] {
  const step = count > 1 ? (extent - wl) / (count - 1) : 0;
  return Array.from({ length: count }, (_, i) => Math.floor(wl2 + i * step) - wl2);
}
