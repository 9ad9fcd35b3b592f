import type { Shortcut } from '../../state/shortcuts.js';

export const searchShortcuts: Shortcut[] = [
  { keys: '← → ↑ ↓', action: 'Select a result (shows its match heatmap)' },
  { keys: 'Enter', action: 'Open the selected result' },
  { keys: 'M', action: 'Switch between the heatmap and the matched points' },
  { keys: 'O', action: 'Show or hide the region overlay' },
  { keys: '[ / ]', action: 'Lower / raise the score threshold' },
  { keys: 'Esc', action: 'Back to the query photo' },
];
