import type { Shortcut } from '../../state/shortcuts.js';

export const photosShortcuts: Shortcut[] = [
  { keys: '← → ↑ ↓', action: 'Move between photos' },
  { keys: 'Home / End', action: 'First / last photo' },
  { keys: 'PgUp / PgDn', action: 'One screen up / down' },
  { keys: 'Enter', action: 'Open the photo' },
  { keys: 'D / F', action: 'Sort by date / by folder' },
  { keys: 'V', action: 'Reverse the order' },
];
