// Which cell a key moves the focus to in a grid laid out row by row.

export interface GridShape {
  /** Cells in all. */
  count: number;
  columns: number;
  /** Rows that fit on screen: what PageUp/PageDown jump by. */
  visibleRows: number;
}

/** The new focused index, or null when the key is not a grid movement. */
export function gridTarget(key: string, index: number, shape: GridShape): number | null {
  const { count, columns } = shape;
  if (count === 0) return null;
  const page = Math.max(1, shape.visibleRows) * columns;
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  switch (key) {
    case 'ArrowRight':
      return clamp(index + 1);
    case 'ArrowLeft':
      return clamp(index - 1);
    case 'ArrowDown':
      // From the last full row, Down goes to the last cell rather than nowhere.
      return index + columns < count ? index + columns : Math.floor(index / columns) < Math.floor((count - 1) / columns) ? count - 1 : index;
    case 'ArrowUp':
      return index - columns >= 0 ? index - columns : index;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    case 'PageDown':
      return clamp(index + page);
    case 'PageUp':
      return clamp(index - page);
    default:
      return null;
  }
}
