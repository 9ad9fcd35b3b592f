// The match heatmap's colour field: each region's heat spread over the area it covers, summed
// where regions overlap (R-MAC's regions overlap across scales), and rescaled to 0..1 so what
// stands out is where the match comes from rather than the baseline every region shares.
import type { PixelBox } from '../../../app/api/contract.js';
import type { Rect } from '../viewer/imageGeometry.js';

export interface HeatField {
  columns: number;
  rows: number;
  /** Row-major, each in 0..1. */
  values: Float32Array;
}

export function heatField(regions: readonly { box: PixelBox; heat: number }[], view: Rect, columns: number): HeatField {
  const rows = Math.max(1, Math.round((columns * view.height) / Math.max(1, view.width)));
  const sums = new Float32Array(columns * rows);
  const cellW = view.width / columns;
  const cellH = view.height / rows;
  for (const { box, heat } of regions) {
    // Regions that argue against the match are not "where it comes from": they are left out.
    if (!(heat > 0)) continue;
    const c0 = Math.max(0, Math.floor((box.x - view.x) / cellW));
    const c1 = Math.min(columns, Math.ceil((box.x + box.width - view.x) / cellW));
    const r0 = Math.max(0, Math.floor((box.y - view.y) / cellH));
    const r1 = Math.min(rows, Math.ceil((box.y + box.height - view.y) / cellH));
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) sums[r * columns + c] += heat;
  }
  // The baseline is the coolest covered cell, not zero: the big regions cover nearly everything,
  // and counting them would tint the whole photo instead of showing where the match is.
  let min = Infinity;
  let max = 0;
  for (const v of sums) {
    if (v > 0 && v < min) min = v;
    if (v > max) max = v;
  }
  const values = new Float32Array(sums.length);
  if (max > 0) {
    // A field that is flat (one region over the whole view) is shown at full strength.
    const span = max - min;
    for (let i = 0; i < sums.length; i++) values[i] = sums[i] <= 0 ? 0 : span > 1e-12 ? (sums[i] - min) / span : 1;
  }
  return { columns, rows, values };
}

/** Colour stops of the heat scale (dark purple → red → yellow), with rising opacity. */
const STOPS: [number, number, number, number, number][] = [
  [0, 40, 10, 90, 0],
  [0.3, 120, 28, 140, 0.28],
  [0.55, 215, 50, 80, 0.45],
  [0.8, 250, 140, 30, 0.6],
  [1, 255, 240, 140, 0.72],
];

/** RGBA (0..255 each) for a heat value in 0..1. */
export function heatColour(value: number): [number, number, number, number] {
  const v = Math.min(1, Math.max(0, value));
  let i = 1;
  while (i < STOPS.length - 1 && STOPS[i][0] < v) i++;
  const [p0, r0, g0, b0, a0] = STOPS[i - 1];
  const [p1, r1, g1, b1, a1] = STOPS[i];
  const t = p1 > p0 ? (v - p0) / (p1 - p0) : 0;
  const mix = (a: number, b: number) => a + (b - a) * t;
  return [Math.round(mix(r0, r1)), Math.round(mix(g0, g1)), Math.round(mix(b0, b1)), Math.round(mix(a0, a1) * 255)];
}

/** CSS gradient of the same scale, for the legend. */
export const HEAT_GRADIENT = `linear-gradient(90deg, ${STOPS.map(([p, r, g, b, a]) => `rgba(${r}, ${g}, ${b}, ${Math.max(a, 0.15)}) ${p * 100}%`).join(', ')})`;

/** One of the top region pairs, as drawn on one side. */
export interface PairBox {
  box: PixelBox;
  rank: number;
  colour: string;
  /** Which of the pairs sharing this region it is (0 for the first), to set its label apart. */
  slot: number;
}

/** Colours for the top region pairs: the same colour marks a pair on both sides. */
export const PAIR_COLOURS = ['#ff6b6b', '#4dd4c6', '#ffd166', '#7c9cff', '#ff8fd8', '#8be07f', '#ffa45c', '#b69cff', '#5fd3ff', '#f2f2f2'];
