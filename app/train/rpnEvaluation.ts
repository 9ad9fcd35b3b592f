// Proposal recall (the paper's figure 3): on held-out photos, the fraction whose clean box is
// covered by at least one of K regions with IoU ≥ t, for the learned proposals and for the rigid
// R-MAC grid pooled on the same feature map. Everything is compared in network pixels of one
// scale; the grid's cells map to pixels exactly as poolScale maps them (cell · stride).
import { rmacRegions } from '../engine/rmacRegions.js';
import { iou, type AnchorSpec, type CornerBox } from '../engine/rpnAnchors.js';
import type { RpnHead } from './rpnHead.js';
import { proposalsFor, type RpnPhoto } from './rpnTraining.js';

/** The rigid grid of one photo (L = 3, as the engine pools it), in network pixels. */
export function gridBoxes(photo: Pick<RpnPhoto, 'width' | 'height' | 'stride'>, levels = 3): CornerBox[] {
  return rmacRegions(photo.width, photo.height, { levels }).map((r) => ({
    x1: r.x * photo.stride,
    y1: r.y * photo.stride,
    x2: (r.x + r.width) * photo.stride,
    y2: (r.y + r.height) * photo.stride,
  }));
}

/** Best IoU of any of the first `k` boxes with the truth. */
export function bestIou(truth: CornerBox, boxes: CornerBox[], k = boxes.length): number {
  let best = 0;
  for (const b of boxes.slice(0, k)) best = Math.max(best, iou(truth, b));
  return best;
}

/** Fraction of photos whose best IoU reaches each threshold. */
export function recallAt(bestIous: number[], thresholds: readonly number[]): number[] {
  return thresholds.map((t) => (bestIous.length ? bestIous.filter((v) => v >= t).length / bestIous.length : 0));
}

export interface RecallRow {
  /** 'grid' or 'rpn'. */
  method: 'grid' | 'rpn';
  /** Regions per photo: K for the RPN, the grid's mean count for the grid. */
  k: number;
  /** Recall per threshold, same order as RecallReport.thresholds. */
  recall: number[];
  /** Mean best IoU over the photos. */
  meanBestIou: number;
}

export interface RecallReport {
  thresholds: number[];
  photos: number;
  rows: RecallRow[];
}

/**
 * Recall of the grid and of the RPN's top-K for each K. The RPN's proposals come from one NMS
 * run at the largest K, and the top-k prefix serves every smaller k: NMS order is score order.
 */
export async function evaluateProposalRecall(head: RpnHead, photos: RpnPhoto[], anchors: AnchorSpec, ks: readonly number[], thresholds: readonly number[] = [0.5, 0.7]): Promise<RecallReport> {
  const maxK = Math.max(...ks);
  const rpnBest = ks.map(() => [] as number[]);
  const gridBest: number[] = [];
  let gridCount = 0;
  for (const photo of photos) {
    const grid = gridBoxes(photo);
    gridCount += grid.length;
    gridBest.push(bestIou(photo.truth, grid));
    const proposals = (await proposalsFor(head, photo, anchors, { topK: maxK })).map((p) => p.box);
    ks.forEach((k, i) => rpnBest[i].push(bestIou(photo.truth, proposals, k)));
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  return {
    thresholds: [...thresholds],
    photos: photos.length,
    rows: [
      { method: 'grid', k: photos.length ? gridCount / photos.length : 0, recall: recallAt(gridBest, thresholds), meanBestIou: mean(gridBest) },
      ...ks.map((k, i) => ({ method: 'rpn' as const, k, recall: recallAt(rpnBest[i], thresholds), meanBestIou: mean(rpnBest[i]) })),
    ],
  };
}
