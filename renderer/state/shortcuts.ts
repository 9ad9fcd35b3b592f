// Keyboard shortcuts as the `?` overlay lists them. Each view exports its own list next to it.

export interface Shortcut {
  keys: string;
  action: string;
}

export const globalShortcuts: Shortcut[] = [
  { keys: '?', action: 'Show or hide keyboard shortcuts' },
  { keys: 'Alt+1 … Alt+6', action: 'Go to Library, Photos, Search, Duplicates, Places, Learn' },
  { keys: 'Esc', action: 'Close this list, or go back' },
];

/** Keys typed into a field belong to the field, not to shortcuts. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !['range', 'checkbox', 'radio', 'button', 'submit', 'file'].includes(target.type);
  return false;
}
