// Where the user is: a section of the sidebar, and the photo viewer open over it or not. Escape
// and "back" return along the way the user came (viewer → results → the query's viewer …).

export type Section = 'library' | 'photos' | 'search' | 'duplicates' | 'places' | 'learn';

/** The photos the viewer steps through with ←/→: the grid's order, the results, or one photo. */
export interface PhotoSequence {
  readonly length: number;
  idAt(index: number): Promise<number | null>;
}

export interface ViewerTarget {
  photoId: number;
  index: number;
  sequence: PhotoSequence;
}

interface Place {
  section: Section;
  viewer: ViewerTarget | null;
}

const HISTORY_LIMIT = 50;

export function listSequence(ids: readonly number[]): PhotoSequence {
  const copy = [...ids];
  return { length: copy.length, idAt: async (i) => copy[i] ?? null };
}

export class Navigation {
  section = $state<Section>('photos');
  viewer = $state.raw<ViewerTarget | null>(null);
  #history: Place[] = [];
  #stepping = 0;

  go(section: Section): void {
    if (section === this.section && !this.viewer) return;
    this.#remember();
    this.section = section;
    this.viewer = null;
  }

  openPhoto(photoId: number, sequence: PhotoSequence = listSequence([photoId]), index = 0): void {
    this.#remember();
    this.viewer = { photoId, index, sequence };
  }

  /** Shows another photo of the viewer's sequence; false at either end. */
  async step(delta: number): Promise<boolean> {
    const current = this.viewer;
    if (!current) return false;
    const index = current.index + delta;
    if (index < 0 || index >= current.sequence.length) return false;
    const ticket = ++this.#stepping;
    const photoId = await current.sequence.idAt(index);
    // A later step (or closing the viewer) while this one loaded wins.
    if (photoId === null || ticket !== this.#stepping || this.viewer !== current) return false;
    this.viewer = { ...current, photoId, index };
    return true;
  }

  /** Goes back one place; false when there is nowhere to go back to. */
  back(): boolean {
    const previous = this.#history.pop();
    if (!previous) {
      if (!this.viewer) return false;
      this.viewer = null;
      return true;
    }
    this.section = previous.section;
    this.viewer = previous.viewer;
    return true;
  }

  #remember(): void {
    this.#history.push({ section: this.section, viewer: this.viewer });
    if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
  }
}
