// Average precision exactly as the Oxford5k / Paris6k `compute_ap.cpp` (Philbin et al.) computes
// it — and as the revisited benchmark's `compute_ap` does too — so our figures can be set beside
// the published ones (DESIGN.md §1.6). Its trapezoid starts every step from the precision *before*
// the hit (precision 1 at rank 0), which is why a lone positive at rank 3 scores 1/6, not the 1/3
// of the textbook non-interpolated AP.

/**
 * AP of one ranking. Junk ids are dropped from the ranking before ranks are counted; an id that
 * is both positive and junk counts as junk (compute_ap tests junk first) but still counts in
 * |positives|, as there. Positives that never appear in the ranking cap recall below 1.
 *
 * Returns NaN for a query without positives: its AP is undefined (compute_ap divides 0 by 0), and
 * the revisited protocol skips such queries rather than scoring them 0 or 1 — see
 * {@link meanAveragePrecision}.
 */
export function averagePrecision(rankedIds: readonly string[], positives: ReadonlySet<string>, junk: ReadonlySet<string>): number {
  const seen = new Set<string>();
  for (const id of rankedIds) {
    // A repeated id would be counted twice as a hit and push recall past 1.
    if (seen.has(id)) throw new Error(`averagePrecision: id "${id}" appears more than once in the ranking`);
    seen.add(id);
  }
  if (positives.size === 0) return NaN;

  const nPos = positives.size;
  let ap = 0;
  let hits = 0;
  let rank = 0; // over non-junk items only
  for (const id of rankedIds) {
    if (junk.has(id)) continue;
    if (positives.has(id)) {
      const precisionBefore = rank === 0 ? 1 : hits / rank;
      hits++;
      const precisionAfter = hits / (rank + 1);
      // A miss adds nothing (recall does not move), so only hits need the trapezoid.
      ap += (1 / nPos) * (precisionBefore + precisionAfter) / 2;
      if (hits === nPos) break;
    }
    rank++;
  }
  return ap;
}

export interface MeanAveragePrecision {
  /** Mean AP over the queries that have positives; NaN when none has. */
  mAP: number;
  /** Queries that entered the mean. */
  evaluated: number;
  /** Queries without positives (AP = NaN), left out of the mean as the revisited protocol does. */
  skipped: number;
}

export function meanAveragePrecision(perQuery: readonly number[]): MeanAveragePrecision {
  let sum = 0;
  let evaluated = 0;
  for (const ap of perQuery) {
    if (Number.isNaN(ap)) continue;
    sum += ap;
    evaluated++;
  }
  return { mAP: evaluated === 0 ? NaN : sum / evaluated, evaluated, skipped: perQuery.length - evaluated };
}
