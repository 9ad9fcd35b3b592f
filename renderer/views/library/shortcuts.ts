import type { Shortcut } from '../../state/shortcuts.js';

export const libraryShortcuts: Shortcut[] = [
  { keys: 'A', action: 'Focus the folder path field' },
  { keys: 'Enter', action: 'Add the folder typed in the path field' },
  { keys: 'Space', action: 'Pause or resume indexing' },
  { keys: 'R', action: 'Re-index every folder' },
];
