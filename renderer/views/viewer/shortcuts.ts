import type { Shortcut } from '../../state/shortcuts.js';

export const viewerShortcuts: Shortcut[] = [
  { keys: 'Drag', action: 'Draw a box around what to look for' },
  { keys: 'B', action: 'Start a box in the centre' },
  { keys: '← → ↑ ↓', action: 'Move the box (without a box: ← → previous / next photo)' },
  { keys: 'Shift + ← → ↑ ↓', action: 'Resize the box' },
  { keys: 'Enter', action: 'Search for what is in the box' },
  { keys: 'W', action: 'Search with the whole photo' },
  { keys: 'G', action: 'Show or hide the pooled regions' },
  { keys: 'Esc', action: 'Remove the box, or go back' },
];
