import { describe, expect, it } from 'vitest';
import { heatColour, heatField } from '../../../renderer/views/search/heatField.js';

describe('heatField', () => {
  const view = { x: 0, y: 0, width: 100, height: 50 };

  it('is hottest where the contributing regions overlap, and cold where none contributes', () => {
    const field = heatField(
      [
        { box: { x: 0, y: 0, width: 100, height: 50 }, heat: 0.1 },
        { box: { x: 0, y: 0, width: 50, height: 50 }, heat: 0.2 },
        { box: { x: 25, y: 0, width: 50, height: 50 }, heat: 0.2 },
        { box: { x: 50, y: 0, width: 50, height: 50 }, heat: -0.5 },
      ],
      view,
      4,
    );
    expect(field.rows).toBe(2);
    // Columns cover x 0–25, 25–50, 50–75, 75–100; the whole-view region is the baseline.
    expect(Array.from(field.values.slice(0, 4))).toEqual([0.5, 1, 0.5, 0]);
  });

  it('leaves what no region covers transparent', () => {
    const field = heatField([{ box: { x: 0, y: 0, width: 50, height: 50 }, heat: 0.2 }], view, 4);
    expect(Array.from(field.values.slice(0, 4))).toEqual([1, 1, 0, 0]);
  });

  it('covers only the part of the photo in view', () => {
    const field = heatField([{ box: { x: 0, y: 0, width: 10, height: 10 }, heat: 1 }], { x: 50, y: 0, width: 50, height: 50 }, 5);
    expect(Array.from(field.values).every((v) => v === 0)).toBe(true);
  });

  it('shows a field with one region over everything at full strength', () => {
    const field = heatField([{ box: { x: 0, y: 0, width: 100, height: 50 }, heat: 0.3 }], view, 4);
    expect(Array.from(field.values).every((v) => v === 1)).toBe(true);
  });

  it('colours cold as transparent and hot as opaque', () => {
    expect(heatColour(0)[3]).toBe(0);
    expect(heatColour(1)[3]).toBeGreaterThan(150);
    expect(heatColour(0.5)[3]).toBeGreaterThan(heatColour(0.2)[3]);
  });
});
