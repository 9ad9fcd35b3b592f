import { describe, expect, it } from 'vitest';
import { gridTarget } from '../../../renderer/views/photos/gridKeys.js';

const shape = { count: 23, columns: 5, visibleRows: 2 };

describe('gridTarget', () => {
  it('moves by one along a row and by a row up and down', () => {
    expect(gridTarget('ArrowRight', 4, shape)).toBe(5);
    expect(gridTarget('ArrowLeft', 0, shape)).toBe(0);
    expect(gridTarget('ArrowDown', 7, shape)).toBe(12);
    expect(gridTarget('ArrowUp', 7, shape)).toBe(2);
    expect(gridTarget('ArrowUp', 2, shape)).toBe(2);
  });

  it('goes from the row above the last, short one to the last photo', () => {
    expect(gridTarget('ArrowDown', 19, shape)).toBe(22);
    expect(gridTarget('ArrowDown', 22, shape)).toBe(22);
  });

  it('jumps by a screen and to either end', () => {
    expect(gridTarget('PageDown', 1, shape)).toBe(11);
    expect(gridTarget('PageDown', 20, shape)).toBe(22);
    expect(gridTarget('PageUp', 3, shape)).toBe(0);
    expect(gridTarget('Home', 17, shape)).toBe(0);
    expect(gridTarget('End', 0, shape)).toBe(22);
  });

  it('ignores other keys and empty grids', () => {
    expect(gridTarget('x', 3, shape)).toBeNull();
    expect(gridTarget('ArrowRight', 0, { ...shape, count: 0 })).toBeNull();
  });
});
