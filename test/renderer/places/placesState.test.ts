import { describe, expect, it } from 'vitest';
import type { PhotoDetail, Place } from '../../../app/api/contract.js';
import { errorText } from '../../../renderer/state/reportingClient.js';
import { PlacesState, sortPlaces } from '../../../renderer/views/places/placesState.svelte.js';
import { placesCommandFor, placesShortcuts } from '../../../renderer/views/places/shortcuts.js';
import { deferred, fakeApiClient } from '../duplicates/fakeApiClient.js';

function place(representative: number, others: number[], cohesion = 0.9): Place {
  return { representative, count: others.length + 1, members: [representative, ...others], cohesion };
}

function detail(id: number): PhotoDetail {
  return {
    id,
    width: 800,
    height: 600,
    takenAt: '2021-06-01T10:00:00Z',
    path: `/photos/p${id}.jpg`,
    name: `p${id}.jpg`,
    status: 'indexed',
    contentHash: 'h',
    size: 1000,
    format: 'jpeg',
    cameraMake: null,
    cameraModel: null,
    gpsLat: null,
    gpsLon: null,
    sharpness: null,
    errorCode: null,
    errorMessage: null,
    files: [{ path: `/photos/p${id}.jpg`, present: true, size: 1000 }],
  };
}

function setup(initial: Place[]) {
  let current = initial;
  const errors: string[] = [];
  const fake = fakeApiClient({ places: () => ({ places: current }), getPhoto: ({ photoId }) => detail(photoId) });
  const state = new PlacesState({ client: fake.client, onError: (e) => errors.push(errorText(e)) });
  return { state, fake, errors, setPlaces: (next: Place[]) => (current = next) };
}

describe('PlacesState', () => {
  it('lists places largest first, with a stable order for equal counts', async () => {
    const { state } = setup([place(9, [1, 2]), place(3, [4, 5, 6, 7]), place(8, [10, 11])]);
    await state.load();
    expect(state.places.map((p) => p.representative)).toEqual([3, 8, 9]);
    expect(state.photoCount).toBe(11);
    expect(state.loaded).toBe(true);
    expect(sortPlaces([place(2, [1]), place(1, [3])]).map((p) => p.representative)).toEqual([1, 2]);
  });

  it('opens a place, fetches its representative and closes again', async () => {
    const { state, fake } = setup([place(3, [4, 5, 6])]);
    await state.load();
    await state.open(state.places[0]);
    expect(state.opened?.representative).toBe(3);
    expect(state.openedDetail?.name).toBe('p3.jpg');
    expect(fake.callsOf('getPhoto')).toEqual([{ photoId: 3 }]);
    state.moveCursor(2);
    expect(state.cursorPhoto).toBe(5);
    state.moveCursor(10);
    expect(state.cursorPhoto).toBe(6);
    state.close();
    expect(state.opened).toBeNull();
    expect(state.openedDetail).toBeNull();
  });

  it('moves the cursor among places and stops at either end', async () => {
    const { state } = setup([place(1, [2, 3]), place(4, [5, 6]), place(7, [8, 9])]);
    await state.load();
    state.moveCursor(-1);
    expect(state.placeCursor).toBe(0);
    state.moveCursor(5);
    expect(state.placeCursor).toBe(2);
  });

  it('follows the open place through a reload that changed its representative', async () => {
    const { state, setPlaces } = setup([place(3, [4, 5])]);
    await state.load();
    await state.open(state.places[0]);
    setPlaces([place(5, [3, 4, 12])]);
    await state.load();
    expect(state.opened?.representative).toBe(5);
    setPlaces([place(20, [21, 22])]);
    await state.load();
    expect(state.opened).toBeNull();
  });

  it('ignores a representative detail that arrives after the user moved on', async () => {
    const hold = deferred<PhotoDetail>();
    const fake = fakeApiClient({ places: () => ({ places: [place(3, [4, 5]), place(6, [7, 8])] }), getPhoto: ({ photoId }) => (photoId === 3 ? hold.promise : detail(photoId)) });
    const state = new PlacesState({ client: fake.client, onError: () => {} });
    await state.load();
    const first = state.open(state.places[0]);
    await state.open(state.places[1]);
    hold.resolve(detail(3));
    await first;
    expect(state.openedDetail?.id).toBe(6);
  });

  it('hands failures to onError as they were thrown', async () => {
    const errors: unknown[] = [];
    const failure = new Error('no descriptors yet');
    const fake = fakeApiClient({
      places: () => {
        throw failure;
      },
    });
    const state = new PlacesState({ client: fake.client, onError: (e) => errors.push(e) });
    await state.load();
    // The very error the client threw: the shell's onError tells from it whether it was reported.
    expect(errors).toEqual([failure]);
    expect(errors[0]).toBe(failure);
    expect(state.loaded).toBe(true);
    expect(state.places).toEqual([]);
  });

  it('maps keys to commands and lists them in the help', () => {
    const key = (k: string) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false });
    expect(placesCommandFor(key('ArrowDown'))).toBe('down');
    expect(placesCommandFor(key('l'))).toBe('next');
    expect(placesCommandFor(key('Enter'))).toBe('open');
    expect(placesCommandFor(key('Escape'))).toBe('back');
    expect(placesCommandFor({ ...key('ArrowLeft'), altKey: true })).toBeNull();
    expect(placesShortcuts.length).toBeGreaterThan(2);
  });
});
