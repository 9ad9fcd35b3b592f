// The Duplicates view's keyboard: the list the app's help shows, and the mapping the view uses.
// Both live here so that what the help promises is what the keys do.

export type DuplicatesCommand =
  | 'next-group'
  | 'previous-group'
  | 'previous-keeper'
  | 'next-keeper'
  | 'tier-exact'
  | 'tier-near'
  | 'tier-similar'
  | 'open-compare'
  | 'close-compare'
  | 'keep-all'
  | 'trash-others'
  | 'not-duplicates'
  | 'undo'
  | 'open-keeper'
  | 'compare-left-previous'
  | 'compare-left-next'
  | 'compare-right-previous'
  | 'compare-right-next'
  | 'compare-swap'
  | 'compare-keep-left'
  | 'compare-keep-right';

export const duplicatesShortcuts: { keys: string; action: string }[] = [
  { keys: 'J / ↓', action: 'Next group' },
  { keys: 'K / ↑', action: 'Previous group' },
  { keys: '← / →', action: 'Pick the previous / next photo as the keeper (Exact: the copy to keep)' },
  { keys: '1 / 2 / 3', action: 'Exact / Near-identical / Similar tab' },
  { keys: 'Enter', action: 'Compare two photos of the group side by side' },
  { keys: 'Shift+K', action: 'Keep all photos of the group (Exact: keep all copies)' },
  { keys: 'T', action: 'Keep the keeper, move the others to the trash (Exact: keep the picked copy, trash the other copies)' },
  { keys: 'N', action: 'Not duplicates (Near-identical and Similar)' },
  { keys: 'Ctrl+Z / U', action: 'Undo the last decision' },
  { keys: 'O', action: 'Open the keeper in the viewer' },
  { keys: 'Escape', action: 'Close the comparison' },
  { keys: '← / →', action: 'In compare: previous / next photo on the right' },
  { keys: 'Shift+← / Shift+→', action: 'In compare: previous / next photo on the left' },
  { keys: 'S', action: 'In compare: swap the two sides' },
  { keys: 'Space', action: 'In compare: keep the photo on the right instead' },
];

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

/** The command a key press means in the list or in the comparison; null when it means nothing here. */
export function duplicatesCommandFor(press: KeyPress, mode: 'list' | 'compare'): DuplicatesCommand | null {
  const { key } = press;
  if ((press.ctrlKey || press.metaKey) && !press.altKey && key.toLowerCase() === 'z' && !press.shiftKey) return 'undo';
  // Browser and system shortcuts (Ctrl+R, Alt+←, …) stay theirs.
  if (press.ctrlKey || press.metaKey || press.altKey) return null;

  // Case matters for K alone: k moves up, Shift+K keeps all.
  if (key === 'K') return 'keep-all';
  switch (key.toLowerCase()) {
    case 't':
      return 'trash-others';
    case 'n':
      return 'not-duplicates';
    case 'u':
      return 'undo';
  }

  if (mode === 'compare') {
    switch (key) {
      case 'Escape':
        return 'close-compare';
      case 'ArrowLeft':
        return press.shiftKey ? 'compare-left-previous' : 'compare-right-previous';
      case 'ArrowRight':
        return press.shiftKey ? 'compare-left-next' : 'compare-right-next';
      case 's':
      case 'S':
        return 'compare-swap';
      case ' ':
        return press.shiftKey ? 'compare-keep-left' : 'compare-keep-right';
    }
    return null;
  }

  switch (key) {
    case 'j':
    case 'J':
    case 'ArrowDown':
      return 'next-group';
    case 'k':
    case 'ArrowUp':
      return 'previous-group';
    case 'ArrowLeft':
      return 'previous-keeper';
    case 'ArrowRight':
      return 'next-keeper';
    case '1':
      return 'tier-exact';
    case '2':
      return 'tier-near';
    case '3':
      return 'tier-similar';
    case 'Enter':
      return 'open-compare';
    case 'o':
    case 'O':
      return 'open-keeper';
  }
  return null;
}

/** Whether a key press belongs to a text field or a focused control rather than to the view. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== 'function') return false;
  const element = target as HTMLElement;
  if (element.isContentEditable) return true;
  return element.closest('input, textarea, select, [contenteditable="true"]') !== null;
}
