import { describe, expect, it } from 'vitest';
import { boxFromCorners, clampBox, displayToOriginal, fitContain, originalToDisplay } from '../../../renderer/views/viewer/imageGeometry.js';

describe('imageGeometry', () => {
  it('fits a photo in the stage keeping its proportions, centred', () => {
    expect(fitContain({ width: 1000, height: 500 }, { width: 4000, height: 3000 })).toEqual({ x: 166.66666666666669, y: 0, width: 666.6666666666666, height: 500 });
    expect(fitContain({ width: 0, height: 500 }, { width: 4000, height: 3000 }).width).toBe(0);
  });

  it('maps what the user sees to the original pixels, not to the 2048-px JPEG shown', () => {
    // A 6000×4000 original, shown as a ≤2048 JPEG, scaled to 600×400 on screen.
    const shown = { width: 600, height: 400 };
    const original = { width: 6000, height: 4000 };
    expect(displayToOriginal({ x: 150, y: 100 }, shown, original)).toEqual({ x: 1500, y: 1000 });
    expect(displayToOriginal({ x: -5, y: 900 }, shown, original)).toEqual({ x: 0, y: 4000 });
    expect(originalToDisplay({ x: 1500, y: 1000, width: 3000, height: 2000 }, shown, original)).toEqual({ x: 150, y: 100, width: 300, height: 200 });
  });

  it('makes a box from two corners in any order', () => {
    expect(boxFromCorners({ x: 300.4, y: 10 }, { x: 100, y: 200.6 })).toEqual({ x: 100, y: 10, width: 200, height: 191 });
  });

  it('keeps a box inside the photo and at least the minimum size', () => {
    expect(clampBox({ x: 950, y: -20, width: 100, height: 2 }, { width: 1000, height: 800 }, 16)).toEqual({ x: 900, y: 0, width: 100, height: 16 });
    expect(clampBox({ x: 0, y: 0, width: 5000, height: 50 }, { width: 1000, height: 800 }, 16)).toEqual({ x: 0, y: 0, width: 1000, height: 50 });
  });
});
