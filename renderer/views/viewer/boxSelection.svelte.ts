// The box the user draws on a photo, always held in the photo's original pixels. Drawn with the
// mouse (begin → drag → end), or with the keyboard: a centred box, then arrows move it and
// Shift+arrows resize it.
import type { PixelBox } from '../../../app/api/contract.js';
import { boxFromCorners, clampBox, type Point, type Size } from './imageGeometry.js';

/** Keyboard moves and resizes go by this share of the photo's long side. */
const KEY_STEP = 0.02;

export class BoxSelection {
  box = $state<PixelBox | null>(null);
  dragging = $state(false);
  #image: Size = { width: 1, height: 1 };
  #anchor: Point | null = null;

  /** The photo the box is on; a new photo drops the old box. */
  setImage(size: Size): void {
    if (size.width === this.#image.width && size.height === this.#image.height) return;
    this.#image = { width: size.width, height: size.height };
    this.clear();
  }

  /** Smaller boxes are clicks or slips of the hand, not a region anyone means to search. */
  get minSide(): number {
    return Math.max(8, Math.round(Math.min(this.#image.width, this.#image.height) * 0.02));
  }

  begin(at: Point): void {
    this.#anchor = this.#inside(at);
    this.dragging = true;
    this.box = null;
  }

  drag(to: Point): void {
    if (!this.#anchor) return;
    this.box = boxFromCorners(this.#anchor, this.#inside(to));
  }

  /** Finishes a drag: the box, or null when the drag was too small to mean one. */
  end(at: Point): PixelBox | null {
    this.drag(at);
    this.#anchor = null;
    this.dragging = false;
    const box = this.box;
    if (!box || box.width < this.minSide || box.height < this.minSide) this.box = null;
    return this.box;
  }

  /** A box half the photo's size in its centre, to move and resize with the keys. */
  startCentred(): void {
    const { width, height } = this.#image;
    this.box = clampBox({ x: width / 4, y: height / 4, width: width / 2, height: height / 2 }, this.#image, this.minSide);
  }

  /** Moves the box by key steps (dx, dy in steps, e.g. -1 for one step left). */
  move(dx: number, dy: number): void {
    if (!this.box) return;
    const step = this.#step();
    this.box = clampBox({ ...this.box, x: this.box.x + dx * step, y: this.box.y + dy * step }, this.#image, this.minSide);
  }

  /** Grows (positive) or shrinks the box by key steps, around its centre. */
  resize(dw: number, dh: number): void {
    if (!this.box) return;
    const step = this.#step();
    const width = Math.max(this.minSide, Math.min(this.#image.width, this.box.width + dw * step));
    const height = Math.max(this.minSide, Math.min(this.#image.height, this.box.height + dh * step));
    const cx = this.box.x + this.box.width / 2;
    const cy = this.box.y + this.box.height / 2;
    this.box = clampBox({ x: cx - width / 2, y: cy - height / 2, width, height }, this.#image, this.minSide);
  }

  clear(): void {
    this.box = null;
    this.#anchor = null;
    this.dragging = false;
  }

  #step(): number {
    return Math.max(1, Math.round(Math.max(this.#image.width, this.#image.height) * KEY_STEP));
  }

  #inside(p: Point): Point {
    return { x: Math.min(this.#image.width, Math.max(0, p.x)), y: Math.min(this.#image.height, Math.max(0, p.y)) };
  }
}
