import { describe, expect, it } from 'vitest';
import { PixelBoxSchema } from '../../../app/api/contract.js';
import { BoxSelection } from '../../../renderer/views/viewer/boxSelection.svelte.js';

describe('BoxSelection', () => {
  it('turns a drag into a box in original pixels that the API accepts', () => {
    const s = new BoxSelection();
    s.setImage({ width: 4000, height: 3000 });
    s.begin({ x: 3000, y: 2500 });
    expect(s.dragging).toBe(true);
    s.drag({ x: 1000, y: 500 });
    const box = s.end({ x: 1000.4, y: 499.6 });
    expect(box).toEqual({ x: 1000, y: 500, width: 2000, height: 2000 });
    expect(PixelBoxSchema.safeParse(box).success).toBe(true);
    expect(s.dragging).toBe(false);
  });

  it('treats a click or a tiny drag as no box', () => {
    const s = new BoxSelection();
    s.setImage({ width: 4000, height: 3000 });
    s.begin({ x: 10, y: 10 });
    expect(s.end({ x: 30, y: 500 })).toBeNull();
    expect(s.box).toBeNull();
  });

  it('keeps a drag that leaves the photo inside it', () => {
    const s = new BoxSelection();
    s.setImage({ width: 800, height: 600 });
    s.begin({ x: 400, y: 300 });
    expect(s.end({ x: 2000, y: -50 })).toEqual({ x: 400, y: 0, width: 400, height: 300 });
  });

  it('offers a keyboard box: centred, moved and resized by steps, never out of the photo', () => {
    const s = new BoxSelection();
    s.setImage({ width: 1000, height: 500 });
    s.startCentred();
    expect(s.box).toEqual({ x: 250, y: 125, width: 500, height: 250 });
    s.move(1, 0);
    expect(s.box).toEqual({ x: 270, y: 125, width: 500, height: 250 });
    s.resize(2, -1);
    expect(s.box).toEqual({ x: 250, y: 135, width: 540, height: 230 });
    for (let i = 0; i < 100; i++) s.move(-1, -1);
    expect(s.box).toMatchObject({ x: 0, y: 0 });
    for (let i = 0; i < 100; i++) s.resize(1, 1);
    expect(s.box).toEqual({ x: 0, y: 0, width: 1000, height: 500 });
    for (let i = 0; i < 100; i++) s.resize(-1, -1);
    expect(s.box?.width).toBe(s.minSide);
  });

  it('drops the box when another photo is shown', () => {
    const s = new BoxSelection();
    s.setImage({ width: 1000, height: 500 });
    s.startCentred();
    s.setImage({ width: 500, height: 1000 });
    expect(s.box).toBeNull();
  });
});
