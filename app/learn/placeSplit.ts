// Held-out places for an honest before/after. The split is by place, never by photo: two photos
// of one place are near-copies of what the whitening learns from, so a photo held out while its
// place-mates are trained on would measure memory, not what the user gains on places it never saw.
import { SeededRandom } from '../train/tripletMining.js';

export interface PlaceSplitOptions {
  /** Share of the photos held out, in whole places (default 0.25). */
  heldOutShare: number;
  seed: number;
  /** Ranking needs a second place to rank against; learning needs negatives from another place. */
  minHeldOut: number;
  minTraining: number;
}

export const DEFAULT_PLACE_SPLIT: PlaceSplitOptions = { heldOutShare: 0.25, seed: 1, minHeldOut: 2, minTraining: 2 };

export interface PlaceSplit<P> {
  training: P[];
  heldOut: P[];
}

export class NotEnoughPlacesError extends Error {
  constructor(readonly places: number, readonly needed: number) {
    super(`${places} verified ${places === 1 ? 'place' : 'places'} found; learning needs at least ${needed}`);
    this.name = 'NotEnoughPlacesError';
  }
}

/**
 * Splits whole places into training and held-out ones, the same way every time for the same
 * places: they are put in a canonical order (by their lowest photo id) and shuffled with the
 * seed, so the order they arrive in does not matter. Places are then held out in that order while
 * they fit in `heldOutShare` of the photos, so one large place cannot take most of the photos
 * away from training; the minimum counts win over the share when the two disagree.
 */
export function splitByPlace<P extends { photos: readonly number[] }>(places: readonly P[], options: Partial<PlaceSplitOptions> = {}): PlaceSplit<P> {
  const o = { ...DEFAULT_PLACE_SPLIT, ...options };
  if (!(o.heldOutShare > 0 && o.heldOutShare < 1)) throw new RangeError(`heldOutShare must be between 0 and 1, got ${o.heldOutShare}`);
  const needed = o.minHeldOut + o.minTraining;
  if (places.length < needed) throw new NotEnoughPlacesError(places.length, needed);
  const seen = new Set<number>();
  for (const p of places) {
    if (p.photos.length === 0) throw new Error('a place without photos cannot be split');
    for (const id of p.photos) {
      if (seen.has(id)) throw new Error(`photo ${id} is in two places: places must not overlap`);
      seen.add(id);
    }
  }
  const shuffled = new SeededRandom(o.seed).shuffle([...places].sort((a, b) => Math.min(...a.photos) - Math.min(...b.photos)));
  const target = o.heldOutShare * seen.size;
  const held = new Set<P>();
  let heldPhotos = 0;
  for (const p of shuffled) {
    if (heldPhotos + p.photos.length > target) continue;
    held.add(p);
    heldPhotos += p.photos.length;
  }
  // Too few held out: add the smallest of the rest. Too few left to train on: give the smallest back.
  const bySize = (a: P, b: P) => a.photos.length - b.photos.length || shuffled.indexOf(a) - shuffled.indexOf(b);
  for (const p of shuffled.filter((x) => !held.has(x)).sort(bySize)) {
    if (held.size >= o.minHeldOut) break;
    held.add(p);
  }
  for (const p of [...held].sort(bySize)) {
    if (places.length - held.size >= o.minTraining || held.size <= o.minHeldOut) break;
    held.delete(p);
  }
  return { heldOut: shuffled.filter((p) => held.has(p)), training: shuffled.filter((p) => !held.has(p)) };
}
