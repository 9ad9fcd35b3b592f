// The "Matched points" mode's geometry and words: the query and the result letterboxed side by
// side in one stage, every point given in a photo's original pixels mapped to the stage's pixels
// (so one SVG over the stage draws the lines from one pane to the other), and the summary line.
import type { MatchVerification, PixelBox } from '../../../app/api/contract.js';
import { fitContain, originalToDisplay, type Point, type Rect, type Size } from '../viewer/imageGeometry.js';

/** A box query is shown zoomed on its box, with a margin of context around it. */
export function queryViewOf(original: Size, box?: PixelBox): Rect {
  const full = { x: 0, y: 0, width: original.width, height: original.height };
  if (!box) return full;
  const margin = Math.max(box.width, box.height) * 0.12;
  const x = Math.max(0, box.x - margin);
  const y = Math.max(0, box.y - margin);
  return { x, y, width: Math.min(full.width, box.x + box.width + margin) - x, height: Math.min(full.height, box.y + box.height + margin) - y };
}

/** Where a view of a photo (a part of it, in original pixels) is drawn, in the stage's pixels. */
export interface Placement {
  view: Rect;
  shown: Rect;
}

/** The two panes' width: the stage split in two around the gap. */
function paneWidth(stageWidth: number, gap: number): number {
  return Math.max(0, (stageWidth - gap) / 2);
}

/**
 * How tall the stage should be: tall enough that each view fills its pane's width (the taller one
 * decides), but no taller than maxHeight; at least minHeight so a panorama still shows.
 */
export function stageHeight(stageWidth: number, gap: number, views: readonly [Size, Size], maxHeight: number, minHeight = 160): number {
  const pane = paneWidth(stageWidth, gap);
  const wanted = Math.max(...views.map((v) => (v.width > 0 ? (pane * v.height) / v.width : 0)));
  return Math.round(Math.max(Math.min(minHeight, maxHeight), Math.min(maxHeight, wanted)));
}

/** The query's view in the left pane and the result's in the right, each fitted and centred in its pane. */
export function sideBySide(stage: Size, gap: number, views: readonly [Rect, Rect]): [Placement, Placement] {
  const pane = { width: paneWidth(stage.width, gap), height: stage.height };
  const place = (view: Rect, left: number): Placement => {
    const fitted = fitContain(pane, view);
    return { view, shown: { ...fitted, x: fitted.x + left } };
  };
  return [place(views[0], 0), place(views[1], pane.width + gap)];
}

/** A box in original pixels → the stage's pixels. */
export function boxOnStage(box: PixelBox, at: Placement): Rect {
  const r = originalToDisplay({ ...box, x: box.x - at.view.x, y: box.y - at.view.y }, at.shown, at.view);
  return { ...r, x: r.x + at.shown.x, y: r.y + at.shown.y };
}

/** A point in original pixels → the stage's pixels. */
export function pointOnStage(point: Point, at: Placement): Point {
  const r = boxOnStage({ x: point.x, y: point.y, width: 1, height: 1 }, at);
  return { x: r.x, y: r.y };
}

/** How the photo's <img> lies in its pane's clip box (percentages of the clip box), to show only the view. */
export function imageLayout(original: Size, view: Rect): { width: string; height: string; left: string; top: string } {
  const pct = (v: number) => `${v * 100}%`;
  return {
    width: pct(original.width / view.width),
    height: pct(original.height / view.height),
    left: pct(-view.x / view.width),
    top: pct(-view.y / view.height),
  };
}

export interface MatchLine {
  query: Point;
  result: Point;
  colour: string;
}

/**
 * The inlier correspondences as lines across the stage. Each gets a colour from where its query
 * end lies, top to bottom, spread over the hues by rank (the points bunch on the object, and a
 * spread by position would draw them all alike): neighbouring lines look alike, and a line that
 * crosses the others stands out.
 */
export function matchLines(lines: MatchVerification['lines'], query: Placement, result: Placement): MatchLine[] {
  const order = lines.map((l, i) => ({ i, y: l[1], x: l[0] })).sort((a, b) => a.y - b.y || a.x - b.x);
  const rank = new Array<number>(lines.length);
  order.forEach((o, r) => (rank[o.i] = r));
  return lines.map(([xq, yq, xr, yr], i) => {
    const hue = Math.round((lines.length > 1 ? rank[i] / (lines.length - 1) : 0) * 300);
    return { query: pointOnStage({ x: xq, y: yq }, query), result: pointOnStage({ x: xr, y: yr }, result), colour: `hsl(${hue} 90% 62%)` };
  });
}

const MODEL_NAMES: Record<NonNullable<MatchVerification['model']>, string> = { homography: 'homography', affine: 'affine transform' };

/** "Verified: 143 of 210 matches agree on one homography (68 %)", or "Not verified: <reason>". */
export function verificationSummary(v: MatchVerification): string {
  if (!v.verified) return `Not verified: ${v.reason ?? 'the matches do not agree on one transform'}`;
  const model = v.model ? MODEL_NAMES[v.model] : 'transform';
  return `Verified: ${v.inliers} of ${v.matches} match${v.matches === 1 ? '' : 'es'} agree${v.inliers === 1 ? 's' : ''} on one ${model} (${Math.round(v.inlierRatio * 100)} %)`;
}
