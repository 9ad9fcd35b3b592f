// Duplicate grouping on synthetic unit vectors whose pair scores are set by angle (cos Δθ), so
// each rule can be put in a corner: chains that single-link grouping would merge, groups that must
// merge, dismissed pairs, resolved groups, the keeper rule's order, exact copies, rotated copies.
import { describe, expect, it } from 'vitest';
import { DescriptorMatrix } from '../../app/search/descriptorMatrix.js';
import {
  KEEPER_RULE,
  chooseKeeper,
  duplicateGroupKey,
  findDuplicateGroups,
  keeperRule,
  type DuplicatePhoto,
  type DuplicateThresholds,
} from '../../app/search/duplicateGroups.js';

const D = 16;
const T: DuplicateThresholds = { near: 0.9, nearMember: 0.85, similar: 0.6, similarMember: 0.55 };
const deg = Math.PI / 180;

/** cos θ · e_i + sin θ · e_j: two vectors on the same (i, j) plane score cos(θ₁ − θ₂). */
function onPlane(thetaDeg: number, i = 0, j = 1): Float32Array {
  const v = new Float32Array(D);
  v[i] = Math.cos(thetaDeg * deg);
  v[j] = Math.sin(thetaDeg * deg);
  return v;
}

function photo(id: number, extra: Partial<DuplicatePhoto> = {}): DuplicatePhoto {
  return { id, contentHash: `h${String(id).padStart(3, '0')}`, width: 1000, height: 1000, size: 100_000, format: 'jpeg', ...extra };
}

function setUp(vectors: Record<number, Float32Array>, extras: Record<number, Partial<DuplicatePhoto>> = {}): { matrix: DescriptorMatrix; photos: DuplicatePhoto[] } {
  const matrix = new DescriptorMatrix(D);
  const photos: DuplicatePhoto[] = [];
  for (const [id, v] of Object.entries(vectors)) {
    matrix.upsert(Number(id), v);
    photos.push(photo(Number(id), extras[Number(id)]));
  }
  return { matrix, photos };
}

const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

describe('findDuplicateGroups: grouping', () => {
  it('does not chain: A~B and B~C near, A≁C → A and C never share a near group', () => {
    // A·B = B·C = cos 20° = 0.940, A·C = cos 40° = 0.766; D is unrelated.
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(20), 3: onPlane(40), 4: onPlane(0, 2, 3) });
    const groups = findDuplicateGroups({ matrix, photos, thresholds: T });
    const near = groups.filter((g) => g.tier === 'near');
    // Which of A–B and B–C forms first is float rounding; B is the centre either way.
    expect(near).toHaveLength(1);
    expect(near[0].centre).toBe(2);
    expect(near[0].members).toHaveLength(2);
    expect(near[0].members.includes(1) && near[0].members.includes(3)).toBe(false);
    const leftOver = near[0].members.includes(1) ? 3 : 1;
    // At the similar tier the near group is one unit, stood for by its centre B, and the photo
    // left out joins it; the near group's other member is not repeated.
    const similar = groups.filter((g) => g.tier === 'similar');
    expect(similar.map((g) => sorted(g.members))).toEqual([sorted([2, leftOver])]);
    expect(groups.some((g) => g.members.includes(4))).toBe(false);
  });

  it('keeps every group a near-clique along a long chain that single-link would merge whole', () => {
    const vectors: Record<number, Float32Array> = {};
    for (let i = 0; i < 12; i++) vectors[i + 1] = onPlane(i * 12); // neighbours 0.978, two apart 0.914, three apart 0.809
    const { matrix, photos } = setUp(vectors);
    const near = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] });
    expect(near.length).toBeGreaterThan(1);
    for (const g of near) {
      for (const a of g.members) {
        expect(matrix.score(a, g.centre)!).toBeGreaterThanOrEqual(T.near);
        for (const b of g.members) expect(matrix.score(a, b)!).toBeGreaterThanOrEqual(T.nearMember - 1e-12);
      }
    }
    const seen = near.flatMap((g) => g.members);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('merges two tight pairs into one group when all four are near each other', () => {
    // 1–2 and 3–4 are the closest pairs, so they form first; every cross pair is still ≥ 0.95.
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(2), 3: onPlane(15), 4: onPlane(17) });
    const near = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] });
    expect(near).toHaveLength(1);
    expect(sorted(near[0].members)).toEqual([1, 2, 3, 4]);
  });

  it('grows the group around the best photo (the keeper rule), reported first with its scores', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(10), 3: onPlane(5) }, { 3: { width: 4000, height: 3000 } });
    const [g] = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] });
    expect(g.centre).toBe(3);
    expect(g.keeper).toBe(3);
    expect(g.members[0]).toBe(3);
    expect(g.scores[0]).toBe(1);
    g.members.forEach((m, i) => expect(g.scores[i]).toBeCloseTo(matrix.score(m, 3)!, 6));
    expect(g.keeperReason).toMatch(/^Largest resolution \(4000×3000 vs 1000×1000\)/);
    expect(g.key).toBe(duplicateGroupKey(['h001', 'h002', 'h003']));
    expect(g.key).toBe('h001,h002,h003');
  });

  it('uses a precomputed candidate graph when given one', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(5), 3: onPlane(0, 2, 3), 4: onPlane(5, 2, 3) });
    // A graph that only knows the 3–4 pair: 1–2 is never a candidate.
    const graph = { ids: Int32Array.from([3, 4]), k: 1, counts: Int32Array.from([1, 1]), neighbours: Int32Array.from([4, 3]), scores: Float64Array.from([0.996, 0.996]) };
    const near = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'], graph });
    expect(near.map((g) => sorted(g.members))).toEqual([[3, 4]]);
  });

  it('finds a copy turned by 90° through alternative descriptors of the original', () => {
    // The turned copy (2) scores 0 with the original (1) but matches the original's rotated descriptor.
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(0, 4, 5), 3: onPlane(0, 8, 9) });
    expect(findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] })).toEqual([]);
    const alternatives = new Map([[1, [onPlane(3, 4, 5)]]]);
    const near = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'], alternatives });
    expect(near.map((g) => sorted(g.members))).toEqual([[1, 2]]);
    expect(near[0].scores[near[0].members.indexOf(2)]).toBeCloseTo(Math.cos(3 * deg), 6);
  });

  it('reports exact copies: one photo in several files, the shortest path suggested', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(90) });
    const filesByPhoto = new Map([[1, ['/b/nested/deeper/x.jpg', '/a/x.jpg', '/b/x.jpg']], [2, ['/only/one.jpg']]]);
    const groups = findDuplicateGroups({ matrix, photos: [...photos, photo(3)], filesByPhoto, thresholds: T });
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ tier: 'exact', members: [1], keeper: 1, key: 'h001', keeperFile: '/a/x.jpg' });
    expect(groups[0].files).toEqual(['/a/x.jpg', '/b/x.jpg', '/b/nested/deeper/x.jpg']);
    expect(findDuplicateGroups({ matrix, photos, filesByPhoto, thresholds: T, resolvedGroups: new Set(['h001']) })).toEqual([]);
    expect(findDuplicateGroups({ matrix, photos, filesByPhoto, thresholds: T, tiers: ['near', 'similar'] })).toEqual([]);
  });

  it('only groups the photos it is given, and ignores photos without a descriptor', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(3), 3: onPlane(6) });
    const near = findDuplicateGroups({ matrix, photos: [photos[0], photos[2], photo(99)], thresholds: T, tiers: ['near'] });
    expect(near.map((g) => sorted(g.members))).toEqual([[1, 3]]);
  });

  it('rejects inconsistent thresholds', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0) });
    expect(() => findDuplicateGroups({ matrix, photos, thresholds: { near: 0.8, nearMember: 0.9 } })).toThrow(/thresholds/);
  });
});

describe('findDuplicateGroups: decisions', () => {
  it('never puts a dismissed pair in one group, at any tier', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(3), 3: onPlane(6) });
    const dismissed = new Set(['h001|h002']);
    const dismissedPairs = (a: string, b: string) => dismissed.has(a < b ? `${a}|${b}` : `${b}|${a}`);
    const calls: string[] = [];
    const groups = findDuplicateGroups({ matrix, photos, thresholds: T, dismissedPairs: (a, b) => (calls.push(a, b), dismissedPairs(a, b)) });
    expect(calls.every((h) => /^h\d{3}$/.test(h))).toBe(true); // called with content hashes
    for (const g of groups) expect(g.members.includes(1) && g.members.includes(2)).toBe(false);
    // 3 still groups with one of them.
    const near = groups.filter((g) => g.tier === 'near');
    expect(near).toHaveLength(1);
    expect(near[0].members).toHaveLength(2);
    expect(near[0].members).toContain(3);
  });

  it('does not bring back a resolved group, nor any group inside it; a new member makes it new', () => {
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(3), 3: onPlane(50, 0, 1) });
    const key = duplicateGroupKey(['h002', 'h001']);
    expect(findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] }).map((g) => g.key)).toEqual([key]);
    expect(findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'], resolvedGroups: new Set([key]) })).toEqual([]);
    // Resolved as three; one of the three deleted since: the remaining two stay resolved.
    expect(findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'], resolvedGroups: ['h001,h002,h077'] })).toEqual([]);
    // A new near copy arrives: the group is no longer the one the user resolved.
    matrix.upsert(4, onPlane(1.5));
    const again = findDuplicateGroups({ matrix, photos: [...photos, photo(4)], thresholds: T, tiers: ['near'], resolvedGroups: new Set([key]) });
    expect(again.map((g) => sorted(g.members))).toEqual([[1, 2, 4]]);
  });
});

describe('keeper rule', () => {
  const base = { width: 2000, height: 1500, sharpness: 100, format: 'jpeg', size: 1_000_000, exifFieldCount: 10, takenAt: '2020-01-01T00:00:00.000Z' };
  const keep = (...ps: Partial<DuplicatePhoto>[]) => chooseKeeper(ps.map((p, i) => photo(i + 1, { ...base, ...p })));

  it('is ordered: resolution, sharpness, EXIF fields, format, file size, capture date, id', () => {
    // Each line: the winner (2) loses on every later criterion and wins on exactly one.
    const worse = { sharpness: 50, format: 'gif', size: 10, exifFieldCount: 0, takenAt: '2024-01-01T00:00:00Z' };
    expect(keep({ ...base }, { ...worse, width: 4000, height: 3000 }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...worse, sharpness: 200, format: 'gif' }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...worse, sharpness: 100, exifFieldCount: 30 }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...worse, sharpness: 100, exifFieldCount: 10, format: 'png' }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...worse, sharpness: 100, exifFieldCount: 10, format: 'jpeg', size: 2_000_000 }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...base, takenAt: '2010-06-01T00:00:00Z' }).keeper.id).toBe(2);
    expect(keep({ ...base }, { ...base }).keeper.id).toBe(1);
  });

  it('ranks formats PNG/TIFF above WebP/HEIF above JPEG above GIF', () => {
    const fmt = (...fs: string[]) => keep(...fs.map((format) => ({ format }))).keeper.format;
    expect(fmt('jpeg', 'png')).toBe('png');
    expect(fmt('jpeg', 'tiff')).toBe('tiff');
    expect(fmt('webp', 'jpeg')).toBe('webp');
    expect(fmt('heif', 'jpeg')).toBe('heif');
    expect(fmt('gif', 'jpeg')).toBe('jpeg');
    expect(fmt('png', 'webp', 'jpeg')).toBe('png');
  });

  it('treats sharpness within 5 % as equal, and unknown values as worst', () => {
    expect(keep({ sharpness: 100, format: 'jpeg' }, { sharpness: 97, format: 'png' }).keeper.id).toBe(2);
    expect(keep({ sharpness: 100, format: 'jpeg' }, { sharpness: 90, format: 'png' }).keeper.id).toBe(1);
    expect(keep({ sharpness: null }, { sharpness: 1 }).keeper.id).toBe(2);
    expect(keep({ takenAt: null }, { takenAt: '2030-01-01T00:00:00Z' }).keeper.id).toBe(2);
    expect(keep({ takenAt: Date.UTC(2001, 0, 1) }, { takenAt: new Date(Date.UTC(2000, 0, 1)) }).keeper.id).toBe(2);
  });

  it('explains the decision in words, naming each criterion that ruled a photo out', () => {
    expect(keep({ width: 4000, height: 3000 }, {}).reason).toBe('Largest resolution (4000×3000 vs 2000×1500)');
    expect(keep({ format: 'png' }, { format: 'jpeg' }).reason).toBe('Better format (PNG vs JPEG)');
    expect(keep({}, { size: 3_100_000 }).reason).toBe('Larger file (3.1 MB vs 1.0 MB)');
    expect(keep({}, { exifFieldCount: 40 }).reason).toBe('More EXIF fields (40 vs 10)');
    expect(keep({}, { takenAt: '2019-05-01T10:00:00Z' }).reason).toBe('Taken earlier (2019-05-01 vs 2020-01-01)');
    expect(keep({}, {}).reason).toBe('Otherwise equal: lowest photo id');
    expect(keep({ width: 4000, height: 3000, format: 'png' }, { width: 4000, height: 3000 }, {}).reason).toBe(
      'Largest resolution (4000×3000 vs 2000×1500), then better format (PNG vs JPEG)',
    );
    expect(chooseKeeper([photo(5)]).reason).toBe('Only photo');
    // The camera's JPEG with its EXIF over a bigger PNG re-save without it.
    expect(keep({ format: 'jpeg', size: 2_000_000, exifFieldCount: 4 }, { format: 'png', size: 9_000_000, exifFieldCount: 0 }).reason).toBe('More EXIF fields (4 vs 0)');
  });

  it('exports the rule as text for the UI, in the order it is applied', () => {
    expect(keeperRule).toBe(KEEPER_RULE);
    const order = ['resolution', 'sharpest', 'EXIF', 'format', 'file', 'capture date', 'photo id'].map((w) => KEEPER_RULE.indexOf(w));
    expect(order.every((p) => p >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe('findDuplicateGroups: candidate graph edges', () => {
  it('uses a pair listed by one row only, once, whichever row lists it', () => {
    // Scores: 3·4 = cos 5°, 3·5 = 5·4 = cos 10°. With k = 1 photo 3 lists only 4 and photo 5
    // lists only 3 (ties go to the lower id): the pair 3–5 is in the higher id's list only.
    const { matrix, photos } = setUp({ 3: onPlane(0), 4: onPlane(5), 5: onPlane(-5) });
    const graph = {
      ids: Int32Array.of(3, 4, 5),
      k: 1,
      counts: Int32Array.of(1, 1, 1),
      neighbours: Int32Array.of(4, 3, 3),
      scores: Float64Array.of(matrix.score(3, 4)!, matrix.score(4, 3)!, matrix.score(5, 3)!),
    };
    const viaGraph = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'], graph });
    expect(viaGraph.map((g) => sorted(g.members))).toEqual([[3, 4, 5]]);
    // The same groups and scores as from the exact all-pairs graph.
    const exact = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] });
    expect(viaGraph).toEqual(exact);
  });
});

describe('findDuplicateGroups: the angle bound on member checks', () => {
  it('checks the pair when the bound is exactly tight (members on opposite sides of the centre)', () => {
    // Centre 0°, members +15° and −17°: each near the centre (0.966, 0.956), but cos 32° = 0.848
    // between them, just under nearMember 0.85, and the bound cos(15° + 17°) is that very value.
    const { matrix, photos } = setUp({ 1: onPlane(0), 2: onPlane(15), 3: onPlane(-17) });
    const near = findDuplicateGroups({ matrix, photos, thresholds: T, tiers: ['near'] });
    expect(near.map((g) => sorted(g.members))).toEqual([[1, 2]]);
  });

  it('gives exactly the groups that checking every member pair gives', () => {
    // 40 clusters of 12 unit vectors in 32-d, spreads from tight (all pairs clear nearMember)
    // to loose (the clique rule must refuse some): the bound may only skip checks it can prove.
    const dim = 32;
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
    const matrix = new DescriptorMatrix(dim);
    const photos: DuplicatePhoto[] = [];
    let id = 1;
    for (let c = 0; c < 40; c++) {
      const centre = Float32Array.from({ length: dim }, rnd);
      const spread = 0.02 + 0.01 * (c % 8);
      for (let m = 0; m < 12; m++) {
        const v = centre.map((x) => x + spread * rnd() * 4);
        const norm = Math.hypot(...v);
        matrix.upsert(id, v.map((x) => x / norm));
        photos.push(photo(id++, { sharpness: (id * 37) % 11 }));
      }
    }
    const thresholds: DuplicateThresholds = { near: 0.995, nearMember: 0.99, similar: 0.98, similarMember: 0.97 };
    const bounded = findDuplicateGroups({ matrix, photos, thresholds });
    // An empty alternatives map turns the bound off and changes no score.
    const exhaustive = findDuplicateGroups({ matrix, photos, thresholds, alternatives: new Map() });
    expect(bounded).toEqual(exhaustive);
    const sizes = bounded.map((g) => g.members.length);
    expect(bounded.filter((g) => g.tier === 'near').length).toBeGreaterThan(5);
    expect(bounded.filter((g) => g.tier === 'similar').length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeGreaterThan(3);
    // Loose clusters are split by the clique rule rather than grouped whole.
    expect(sizes.some((n) => n < 12)).toBe(true);
  });
});
