// Display pixels ↔ the photo's oriented original pixels. The viewer shows a JPEG of at most 2048
// px, scaled again to fit the window, but every box the API takes or returns is in original
// pixels: all conversions go through the original size, never the shown image's.
import type { PixelBox } from '../../../app/api/contract.js';

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Rect extends Point, Size {}

/** The largest rectangle of the image's proportions that fits in the area, centred in it. */
export function fitContain(area: Size, image: Size): Rect {
  if (area.width <= 0 || area.height <= 0 || image.width <= 0 || image.height <= 0) return { x: 0, y: 0, width: 0, height: 0 };
  const scale = Math.min(area.width / image.width, area.height / image.height);
  const width = image.width * scale;
  const height = image.height * scale;
  return { x: (area.width - width) / 2, y: (area.height - height) / 2, width, height };
}

/** A point given relative to the shown image's top-left corner → original pixels, kept inside the photo. */
export function displayToOriginal(point: Point, shown: Size, original: Size): Point {
  if (shown.width <= 0 || shown.height <= 0) return { x: 0, y: 0 };
  const x = (point.x / shown.width) * original.width;
  const y = (point.y / shown.height) * original.height;
  return { x: Math.min(original.width, Math.max(0, x)), y: Math.min(original.height, Math.max(0, y)) };
}

export function originalToDisplay(box: PixelBox, shown: Size, original: Size): Rect {
  const sx = shown.width / original.width;
  const sy = shown.height / original.height;
  return { x: box.x * sx, y: box.y * sy, width: box.width * sx, height: box.height * sy };
}

/** The box two corners span, in whole pixels. Width or height may be 0 (a click, not a drag). */
export function boxFromCorners(a: Point, b: Point): PixelBox {
  const x0 = Math.round(Math.min(a.x, b.x));
  const y0 = Math.round(Math.min(a.y, b.y));
  const x1 = Math.round(Math.max(a.x, b.x));
  const y1 = Math.round(Math.max(a.y, b.y));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The box moved and shrunk as little as needed to lie inside the photo, at least `minSide` a side. */
export function clampBox(box: PixelBox, original: Size, minSide: number): PixelBox {
  const width = Math.round(Math.min(original.width, Math.max(minSide, box.width)));
  const height = Math.round(Math.min(original.height, Math.max(minSide, box.height)));
  const x = Math.round(Math.min(original.width - width, Math.max(0, box.x)));
  const y = Math.round(Math.min(original.height - height, Math.max(0, box.y)));
  return { x, y, width, height };
}
