// The Learn view's keyboard: the list the app's help shows, and the mapping the view uses.
import type { Shortcut } from '../../state/shortcuts.js';

export type LearnCommand = 'start' | 'cancel' | 'undo';

export const learnShortcuts: Shortcut[] = [
  { keys: 'S', action: 'Start learning from the library' },
  { keys: 'C', action: 'Cancel learning (the whitening in use stays)' },
  { keys: 'U', action: 'Go back to the whitening in use before learning switched it' },
  { keys: 'Tab / Enter', action: 'Move between the buttons and press one' },
];

export function learnCommandFor(press: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }): LearnCommand | null {
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  switch (press.key.toLowerCase()) {
    case 's':
      return 'start';
    case 'c':
      return 'cancel';
    case 'u':
      return 'undo';
  }
  return null;
}
