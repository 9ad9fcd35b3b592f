// The Places view's keyboard: the list the app's help shows, and the mapping the view uses.

export type PlacesCommand = 'previous' | 'next' | 'up' | 'down' | 'open' | 'back';

export const placesShortcuts: { keys: string; action: string }[] = [
  { keys: '← / → / ↑ / ↓', action: 'Move between places, or between the photos of the open place' },
  { keys: 'H / L / K / J', action: 'The same, without leaving the home row' },
  { keys: 'Enter', action: 'Open the place, or show the photo in the viewer' },
  { keys: 'Escape / Backspace', action: 'Back to all places' },
];

export interface PlacesKeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

export function placesCommandFor(press: PlacesKeyPress): PlacesCommand | null {
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  switch (press.key) {
    case 'ArrowLeft':
    case 'h':
      return 'previous';
    case 'ArrowRight':
    case 'l':
      return 'next';
    case 'ArrowUp':
    case 'k':
      return 'up';
    case 'ArrowDown':
    case 'j':
      return 'down';
    case 'Enter':
      return 'open';
    case 'Escape':
    case 'Backspace':
      return 'back';
  }
  return null;
}
