// The Places view's state: the same-place clusters the core found, largest first, the place the
// user opened (with its representative photo's details) and the keyboard's position in each list.
import type { PhotoDetail, Place } from '../../../app/api/contract.js';
import type { ApiClient } from '../../lib/apiClient.js';

export interface PlacesStateOptions {
  client: ApiClient;
  /**
   * Failures the user should hear about, as thrown: API failures as the client threw them (the
   * shell's client has already reported those, and its onError knows not to repeat them).
   */
  onError: (error: unknown) => void;
}

/** Largest first; ties by representative id so that the order is stable across reloads. */
export function sortPlaces(places: readonly Place[]): Place[] {
  return [...places].sort((a, b) => b.count - a.count || a.representative - b.representative);
}

export class PlacesState {
  readonly #client: ApiClient;
  readonly #onError: (error: unknown) => void;
  #loadSeq = 0;
  #detailSeq = 0;
  /** A reload was asked for while one was running: run one more when it ends. */
  #reloadPending = false;

  places = $state.raw<Place[]>([]);
  loading = $state(false);
  loaded = $state(false);
  /** The representative of the open place; null on the overview. */
  openedId = $state<number | null>(null);
  /** The open place's representative photo, once fetched. */
  openedDetail = $state.raw<PhotoDetail | null>(null);
  /** Keyboard position among the places (overview) and among the open place's photos. */
  placeCursor = $state(0);
  memberCursor = $state(0);

  constructor(options: PlacesStateOptions) {
    this.#client = options.client;
    this.#onError = options.onError;
  }

  readonly opened = $derived<Place | null>(this.places.find((p) => p.representative === this.openedId) ?? null);

  readonly photoCount = $derived(this.places.reduce((sum, p) => sum + p.count, 0));

  async load(): Promise<void> {
    const seq = ++this.#loadSeq;
    this.loading = true;
    try {
      const { places } = await this.#client.call('places', {});
      if (seq !== this.#loadSeq) return;
      const previous = this.opened;
      const cursorPlace = this.places[this.placeCursor];
      this.places = sortPlaces(places);
      if (previous) this.#reopenAfterReload(previous);
      const cursorAt = cursorPlace ? this.places.findIndex((p) => p.representative === cursorPlace.representative) : -1;
      this.placeCursor = Math.max(0, cursorAt >= 0 ? cursorAt : Math.min(this.placeCursor, this.places.length - 1));
    } catch (error) {
      if (seq === this.#loadSeq) this.#onError(error);
    } finally {
      if (seq === this.#loadSeq) {
        this.loading = false;
        this.loaded = true;
      }
    }
  }

  /** A load, unless one is running: then one more after it (clustering a big library takes the core seconds). */
  async reload(): Promise<void> {
    if (this.loading) {
      this.#reloadPending = true;
      return;
    }
    do {
      this.#reloadPending = false;
      await this.load();
    } while (this.#reloadPending);
  }

  /** Clusters are recomputed from scratch: follow the open place to whichever now holds its representative. */
  #reopenAfterReload(previous: Place): void {
    if (this.opened) return;
    const successor = this.places.find((p) => p.members.includes(previous.representative));
    if (successor) void this.open(successor);
    else this.close();
  }

  async open(place: Place): Promise<void> {
    this.openedId = place.representative;
    this.placeCursor = Math.max(0, this.places.indexOf(place));
    this.memberCursor = 0;
    if (this.openedDetail?.id === place.representative) return;
    this.openedDetail = null;
    const seq = ++this.#detailSeq;
    try {
      const detail = await this.#client.call('getPhoto', { photoId: place.representative });
      if (seq === this.#detailSeq && this.openedId === place.representative) this.openedDetail = detail;
    } catch (error) {
      if (seq === this.#detailSeq) this.#onError(error);
    }
  }

  close(): void {
    this.openedId = null;
    this.openedDetail = null;
    this.#detailSeq++;
  }

  /** Moves the keyboard position by `delta` in the list on screen, stopping at either end. */
  moveCursor(delta: number): void {
    if (this.opened) {
      this.memberCursor = Math.min(this.opened.members.length - 1, Math.max(0, this.memberCursor + delta));
    } else if (this.places.length) {
      this.placeCursor = Math.min(this.places.length - 1, Math.max(0, this.placeCursor + delta));
    }
  }

  /** The photo under the keyboard position of the open place. */
  readonly cursorPhoto = $derived<number | null>(this.opened?.members[this.memberCursor] ?? null);
}
