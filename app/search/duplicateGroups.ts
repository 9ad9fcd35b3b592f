// Duplicate groups in three tiers, each with a suggested keeper.
//
// - exact:   one photo (one content hash: the library stores a photo once per hash) found in two or
//            more files. The files are byte-identical; the group names them.
// - near:    the same shot re-encoded, resized, slightly cropped, rotated, flipped or turned grey:
//            descriptor similarity ≥ T_near.
// - similar: the same subject shot again (another angle, a burst frame): T_similar ≤ score < T_near.
//            Grouped over "units": a near group counts as one unit, represented by its centre, so a
//            similar group shows distinct shots, not every copy of each.
//
// Grouping rule (near-clique around a centre, greedy by score). Similarity is not transitive: with
// single-link grouping (connected components) A~B and B~C put A and C together even when A≁C,
// and a chain of small edits or a burst can pull a whole album into one group. Here:
//   1. candidate pairs scoring ≥ the member threshold are taken strongest first;
//   2. two ungrouped photos start a group only if their pair scores ≥ the centre threshold; the
//      centre is the more central of the two: the one with the larger summed score over all its
//      candidate pairs at centre level (usually the original, to which every derived copy is
//      closer than the copies are to each other), ties broken by the keeper rule;
//   3. a photo joins a group only if it scores ≥ the centre threshold with the group's centre AND
//      ≥ the (slightly lower) member threshold with every member, and no pair with a member was
//      dismissed by the user;
//   4. two groups merge only if every photo of the one would be allowed to join the other (whose
//      centre is the more central) in that way.
// So every group is a near-clique: no member is far from any other, and chaining cannot happen.
//
// Decisions: a dismissed pair ("not duplicates") never ends up in one group, at any tier; a group
// whose photos all lie inside one resolved group is not reported again, while a group that gains
// a new photo is new information and is.
import type { DescriptorMatrix, NeighbourGraph } from './descriptorMatrix.js';
import { ById, IdSlots } from './idIndex.js';
import { sortIndices } from './sortIndices.js';

export type DuplicateTier = 'exact' | 'near' | 'similar';

export interface DuplicatePhoto {
  id: number;
  contentHash: string;
  width?: number | null;
  height?: number | null;
  /** Bytes. */
  size: number;
  /** sharp's format name: jpeg, png, webp, tiff, heif, avif, gif, … */
  format?: string | null;
  /** Higher is sharper. */
  sharpness?: number | null;
  exifFieldCount?: number | null;
  /** ISO 8601 text (as the library stores it), epoch milliseconds or a Date. */
  takenAt?: string | number | Date | null;
}

export interface DuplicateThresholds {
  /** A near group's centre and each of its members: at least this. */
  near: number;
  /** Any two members of a near group: at least this. */
  nearMember: number;
  /** A similar group's centre and each member: at least this. */
  similar: number;
  /** Any two members of a similar group: at least this. */
  similarMember: number;
}

/**
 * For unwhitened R-MAC of the offline default model (nsfwjs MobileNetV2 mid-level features, 816-d,
 * long side 512), as measured by bench/calibrateNearDuplicates.ts on shared/data:
 * - near-dup/ files: every variant scores ≥ 0.9831 with its original (grey 0.9831, the 300×300
 *   resize 0.9869, the rotated copy 0.9902, the mirror 0.9954, WebP 0.9994, the alpha-channel PNG
 *   1.0000); two different UKBench objects score ≤ 0.9780. `near` sits in that gap, and every
 *   variant groups with its original with no object mixed in. `nearMember` 0.97 lets the grey
 *   copy share the group with the rotated and the resized ones (0.9754 and 0.9774 with it).
 * - Sixteen kinds of variant made from the 10 UKBench bases, one kind at a time: 148/160 join
 *   their original, one group mixes two objects (two 15°-rotated copies, alike by their black
 *   corners). Missed: 4 of 10 tiny 160 px copies (0.975–0.98), 6 quarter turns and 2 upside-down
 *   mirrors (down to 0.963: the descriptor is not rotation invariant). Pairwise, τ = 0.981 has
 *   precision 96.7 % and recall 92.8 % (variant↔original) on that set.
 * - The catch: among photos of one landmark (Paris6k-mini) different shots score up to 0.995,
 *   their median 0.982 is above `near`, and unrelated photos reach 0.988. In such a library
 *   the unwhitened near tier gathers different shots (49 of 68 groups) and the similar tier mixes
 *   subjects: unrelated pairs have median 0.966 and 99th percentile 0.983, above `near` itself, so
 *   no `similar` below `near` is precise (0.975: 34 % pairwise precision for 80 % recall; 0.98:
 *   62 % for 60 %). `similar` is therefore set just above the highest score of two different
 *   UKBench objects in near-dup/ (0.9780), which leaves a thin similar tier, [0.979, 0.981).
 *   Use WHITENED_THRESHOLDS as soon as the library has a whitening; these are for a fresh library.
 */
export const DEFAULT_THRESHOLDS: Readonly<DuplicateThresholds> = Object.freeze({
  near: 0.981,
  nearMember: 0.97,
  similar: 0.979,
  similarMember: 0.975,
});

/**
 * For whitened descriptors of the default model (512-d PCA-whitening fitted on ~2000 region
 * vectors of 100 photos; measured on other photos). Scores spread out: other shots of the same
 * subject have median 0.20, unrelated photos 0.02 (99th percentile 0.28).
 * - near 0.6: near-dup/ variants 0.64–1.0 with their original, all grouped; made variants one kind
 *   at a time 132/160, no group mixing objects; pairwise precision 98 % on the held-out set, the
 *   false pairs being consecutive video frames, stereo pairs and near-identical landmark views.
 *   Whitening is harsher on geometry: quarter turns score −0.02–0.79 (median 0.37) with their
 *   original, so without rotated alternatives only 13 of 30 are found; with them 153/160, still
 *   no group mixing objects.
 * - nearMember 0.4: ukbench00120's grey copy scores 0.445 and 0.458 with its rotated and resized
 *   copies; different near-dup/ objects reach 0.406, but never with a group's centre (≥ 0.6).
 * - similar 0.35: 93 % pairwise precision for 26 % recall on landmark photos; 0.25 would give 82 %
 *   for 56 %.
 * Refit whitenings differ: re-run the calibration when the whitening changes materially.
 */
export const WHITENED_THRESHOLDS: Readonly<DuplicateThresholds> = Object.freeze({
  near: 0.6,
  nearMember: 0.4,
  similar: 0.35,
  similarMember: 0.3,
});

/** The thresholds for descriptors with or without whitening. */
export function duplicateThresholds(whitened: boolean): Readonly<DuplicateThresholds> {
  return whitened ? WHITENED_THRESHOLDS : DEFAULT_THRESHOLDS;
}

export interface DuplicateGroup {
  tier: DuplicateTier;
  /** duplicateGroupKey of the members' content hashes: what a 'resolved' decision stores. */
  key: string;
  /** Photo ids: the keeper first, then by similarity to the group's centre. */
  members: number[];
  /** Each member's similarity to the centre (1 for the centre; 1 for every exact-tier member). */
  scores: number[];
  /** The photo the group was grown around. */
  centre: number;
  keeper: number;
  keeperReason: string;
  /** Exact tier: the photo's files, the suggested one to keep first. */
  files?: string[];
  keeperFile?: string;
}

export interface FindDuplicateOptions {
  matrix: DescriptorMatrix;
  /** Photos to consider; those without a row in the matrix take part in the exact tier only. */
  photos: Iterable<DuplicatePhoto>;
  /** Present files of each photo (exact tier). */
  filesByPhoto?: ReadonlyMap<number, readonly string[]>;
  /** Called with two content hashes; true = the user said these are not duplicates. */
  dismissedPairs?: (hashA: string, hashB: string) => boolean;
  /** Keys (duplicateGroupKey) of groups the user resolved. */
  resolvedGroups?: Iterable<string>;
  thresholds?: Partial<DuplicateThresholds>;
  /** Which tiers to compute (default all three). */
  tiers?: readonly DuplicateTier[];
  /** Candidate neighbours per photo when the graph is computed here (default 20). */
  neighbours?: number;
  /**
   * Precomputed candidate graph (e.g. maintained with topK as photos arrive); it must list, for
   * every photo, its neighbours down to at least `similarMember`. Default: matrix.allPairsAbove,
   * exact but O(n²): fine for tens of thousands of photos, not for 100k in an interactive call.
   */
  graph?: NeighbourGraph;
  /**
   * Extra descriptors of a photo, e.g. of its 90°/180°/270° rotations: a global R-MAC descriptor
   * is not rotation invariant, so a copy whose pixels were turned a quarter (EXIF orientation
   * lost) scores like an unrelated photo. A pair's score is the best over these alternatives.
   */
  alternatives?: ReadonlyMap<number, readonly Float32Array[]>;
  /**
   * Pixel-level check each member of a near group must pass against the group's centre (e.g.
   * nearIdenticalScore of tiny signatures); the descriptor thresholds then act as a gate.
   */
  nearVerifier?: (a: number, b: number) => boolean;
}

/** The key of a group of photos: their content hashes, sorted, joined by ','. */
export function duplicateGroupKey(hashes: Iterable<string>): string {
  return [...hashes].sort().join(',');
}

// ---------------------------------------------------------------------------------------------
// Keeper rule

const FORMAT_RANK: Readonly<Record<string, number>> = {
  png: 4, tiff: 4, tif: 4, bmp: 4,
  webp: 3, heif: 3, heic: 3, avif: 3, jxl: 3,
  jpeg: 2, jpg: 2,
  gif: 1,
};
const FORMAT_ORDER_TEXT = 'PNG/TIFF > WebP/HEIF/AVIF > JPEG > GIF';
/** Sharpness within this fraction of the sharpest counts as equally sharp: re-encoding alone moves it that much. */
const SHARPNESS_TOLERANCE = 0.05;

export const KEEPER_RULE = `largest resolution, then sharpest (within ${SHARPNESS_TOLERANCE * 100} %), then most EXIF fields (date, camera, place, orientation), then best format (${FORMAT_ORDER_TEXT}), then largest file, then oldest capture date, then lowest photo id`;
/** The keeper rule as text for the UI. */
export const keeperRule = KEEPER_RULE;

function pixels(p: DuplicatePhoto): number {
  return (p.width ?? 0) * (p.height ?? 0);
}

function formatRank(p: DuplicatePhoto): number {
  return FORMAT_RANK[(p.format ?? '').toLowerCase()] ?? 0;
}

function takenAtMs(p: DuplicatePhoto): number {
  const t = p.takenAt;
  if (t === undefined || t === null) return NaN;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  return Number.isFinite(ms) ? ms : NaN;
}

function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

interface KeeperStep {
  /** Higher is better; NaN = unknown, ranks below every known value. */
  value: (p: DuplicatePhoto) => number;
  /** Candidates within this of the best stay in. */
  keeps: (v: number, best: number) => boolean;
  phrase: (winner: DuplicatePhoto, runnerUp: DuplicatePhoto) => string;
}

const exactlyBest = (v: number, best: number): boolean => v === best;

const KEEPER_STEPS: KeeperStep[] = [
  {
    value: (p) => pixels(p),
    keeps: exactlyBest,
    phrase: (w, r) => `largest resolution (${w.width}×${w.height} vs ${r.width ?? '?'}×${r.height ?? '?'})`,
  },
  {
    value: (p) => (p.sharpness ?? NaN),
    keeps: (v, best) => v >= best - Math.abs(best) * SHARPNESS_TOLERANCE,
    phrase: (w, r) => `sharpest (${w.sharpness!.toPrecision(3)} vs ${r.sharpness?.toPrecision(3) ?? 'unknown'})`,
  },
  // Before format and size: a re-save (a PNG or a higher-quality JPEG made from the camera's
  // file) is larger and "better" by format but holds no more of the scene, and loses the EXIF.
  {
    value: (p) => (p.exifFieldCount ?? NaN),
    keeps: exactlyBest,
    phrase: (w, r) => `more EXIF fields (${w.exifFieldCount} vs ${r.exifFieldCount ?? 'none'})`,
  },
  {
    value: formatRank,
    keeps: exactlyBest,
    phrase: (w, r) => `better format (${(w.format ?? '?').toUpperCase()} vs ${(r.format ?? 'unknown').toUpperCase()})`,
  },
  {
    value: (p) => p.size,
    keeps: exactlyBest,
    phrase: (w, r) => `larger file (${formatBytes(w.size)} vs ${formatBytes(r.size)})`,
  },
  {
    value: (p) => -takenAtMs(p),
    keeps: exactlyBest,
    phrase: (w, r) => {
      const t = (p: DuplicatePhoto) => (Number.isNaN(takenAtMs(p)) ? 'unknown' : new Date(takenAtMs(p)).toISOString().slice(0, 10));
      return `taken earlier (${t(w)} vs ${t(r)})`;
    },
  },
];

/**
 * The suggested keeper by KEEPER_RULE, as successive filters (not a sort: the sharpness tolerance
 * is not transitive), and a reason naming each criterion that ruled a photo out, with the winner's
 * value against the best of those it ruled out.
 */
export function chooseKeeper(photos: readonly DuplicatePhoto[]): { keeper: DuplicatePhoto; reason: string } {
  if (photos.length === 0) throw new Error('chooseKeeper: no photos');
  let left = [...photos].sort((a, b) => a.id - b.id);
  const parts: string[] = [];
  const ruledOut: { step: KeeperStep; best: DuplicatePhoto }[] = [];
  for (const step of KEEPER_STEPS) {
    if (left.length === 1) break;
    const values = left.map((p) => step.value(p));
    const known = values.filter((v) => !Number.isNaN(v));
    if (known.length === 0) continue;
    const best = Math.max(...known);
    const kept = left.filter((_, i) => !Number.isNaN(values[i]) && step.keeps(values[i], best));
    const out = left.filter((p) => !kept.includes(p));
    if (out.length > 0) {
      // The runner-up to quote: the best of those ruled out here.
      const runnerUp = out.reduce((a, b) => (compareValue(step.value(b), step.value(a)) > 0 ? b : a));
      ruledOut.push({ step, best: runnerUp });
    }
    left = kept;
  }
  const keeper = left[0];
  for (const { step, best } of ruledOut) parts.push(step.phrase(keeper, best));
  if (left.length > 1) parts.push('otherwise equal: lowest photo id');
  const text = parts.length === 0 ? 'only photo' : parts.join(', then ');
  return { keeper, reason: text.charAt(0).toUpperCase() + text.slice(1) };
}

function compareValue(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a - b;
}

/** Whether `a` is the better keeper of the two (the rule applied to a pair). */
function betterKeeper(a: DuplicatePhoto, b: DuplicatePhoto): boolean {
  return chooseKeeper([a, b]).keeper === a;
}

// ---------------------------------------------------------------------------------------------
// Grouping

interface Group {
  centre: number;
  members: number[];
}

/**
 * Candidate pairs (a < b) with their scores, in growable typed arrays: at 100k photos there are
 * ~1.6 M of them, which as objects took ~100 MB of heap and most of the grouping's garbage.
 */
class EdgeList {
  a: Int32Array;
  b: Int32Array;
  s: Float64Array;
  length = 0;

  /** `capacity`: room for this many edges before the arrays grow (growing holds old and new at once). */
  constructor(capacity = 1024) {
    const n = Math.max(16, capacity);
    this.a = new Int32Array(n);
    this.b = new Int32Array(n);
    this.s = new Float64Array(n);
  }

  push(x: number, y: number, score: number): void {
    if (this.length === this.a.length) {
      const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
        const next = make(old.length * 2);
        next.set(old);
        return next;
      };
      this.a = grow(this.a, (n) => new Int32Array(n));
      this.b = grow(this.b, (n) => new Int32Array(n));
      this.s = grow(this.s, (n) => new Float64Array(n));
    }
    this.a[this.length] = Math.min(x, y);
    this.b[this.length] = Math.max(x, y);
    this.s[this.length] = score;
    this.length++;
  }

  /** Indices of the edges scoring at least `min`, strongest first, ties by the lower then higher id. */
  strongestFirst(min: number): Uint32Array {
    const { a, b, s } = this;
    let n = 0;
    for (let i = 0; i < this.length; i++) if (s[i] >= min) n++;
    const picked = new Uint32Array(n);
    for (let i = 0, j = 0; i < this.length; i++) if (s[i] >= min) picked[j++] = i;
    sortIndices(picked, (x, y) => s[x] > s[y] || (s[x] === s[y] && (a[x] < a[y] || (a[x] === a[y] && b[x] < b[y]))));
    return picked;
  }
}

function resolveThresholds(t: Partial<DuplicateThresholds> | undefined): DuplicateThresholds {
  const out = { ...DEFAULT_THRESHOLDS, ...t };
  if (!(out.nearMember <= out.near && out.similarMember <= out.similar && out.similar <= out.near)) {
    throw new Error(`duplicate thresholds must satisfy nearMember ≤ near, similarMember ≤ similar ≤ near: ${JSON.stringify(out)}`);
  }
  return out;
}

/**
 * Greedy near-clique grouping (rules 1–4 of the file comment) of `nodes` over candidate `edges`.
 * `score` gives any pair's similarity; `allowed` says whether a pair may share a group.
 */
function growGroups(
  edges: EdgeList,
  /** Every photo an edge may name: per-photo state lives at its slot. */
  photos: ById<DuplicatePhoto>,
  centreMin: number,
  memberMin: number,
  score: (a: number, b: number) => number,
  allowed: (a: number, b: number) => boolean,
  better: (a: number, b: number) => boolean,
  /** Checked against the centre only: copies all derive from it, not from each other. */
  verifiedWithCentre: (a: number, b: number) => boolean = () => true,
  /** `score` is the plain dot product of unit vectors, so the angle bound below holds. */
  unitVectors = false,
): Group[] {
  const order = edges.strongestFirst(memberMin);
  // Per-photo state in typed arrays indexed by a dense slot, not Maps keyed by photo id: a Map
  // boxes every float it holds, and summing strengths over ~1.3 M edges at 100k photos left
  // ~40 MB of boxed numbers for the collector, the process's memory peak.
  const slot = (id: number): number => photos.slotOf(id);
  const slots = photos.items.length;
  // How central a photo is: the summed score of its pairs at centre level. Every edited copy is
  // derived from the original, so the original is the photo close to all the others; a copy is
  // close to the original and only to some of its siblings (a grey copy and a 90°-turned one
  // are far apart, as is a turned copy from anything without rotated alternatives).
  const strength = new Float64Array(slots);
  for (const e of order) {
    const sc = edges.s[e];
    if (sc < centreMin) break;
    strength[slot(edges.a[e])] += sc;
    strength[slot(edges.b[e])] += sc;
  }
  const moreCentral = (a: number, b: number): boolean => {
    const sa = strength[slot(a)];
    const sb = strength[slot(b)];
    return sa !== sb ? sa > sb : better(a, b);
  };
  const groups: Group[] = [];
  /** Each photo's group (an index into groups), −1 while it has none. */
  const groupIndex = new Int32Array(slots).fill(-1);
  /** Each grouped photo's score with its group's centre. */
  const toCentre = new Float64Array(slots);
  const place = (x: number, g: number, score: number): void => {
    groupIndex[slot(x)] = g;
    toCentre[slot(x)] = score;
  };
  // A group only gains members and keeps its centre, so a photo or group once refused by a group
  // is refused by it for good: remembering refusals spares re-checking every member against
  // every later edge (at 100k photos in clusters of 100, most of the grouping time).
  const refusedPhotos = new WeakMap<Group, Set<number>>();
  const refusedGroups = new WeakMap<Group, WeakSet<Group>>();
  /** x's score with g's centre if g admits x (rule 3), else NaN. */
  const admits = (x: number, g: Group): number => {
    const xToCentre = score(x, g.centre);
    if (xToCentre < centreMin) return NaN;
    const angle = Math.acos(Math.min(1, xToCentre));
    for (const m of g.members) {
      if (m === g.centre) continue;
      if (!allowed(x, m)) return NaN;
      // Unit vectors: the angle between x and m is at most the sum of their angles to the
      // centre, so when even that bound clears memberMin no dot product is needed. In a tight
      // group (copies of one shot) this skips nearly all of the O(members²) member checks.
      if (unitVectors) {
        const sum = angle + Math.acos(Math.min(1, toCentre[slot(m)]));
        if (sum <= Math.PI && Math.cos(sum) >= memberMin + 1e-6) continue;
      }
      if (score(x, m) < memberMin) return NaN;
    }
    return allowed(x, g.centre) && verifiedWithCentre(x, g.centre) ? xToCentre : NaN;
  };
  const join = (x: number, gi: number): boolean => {
    const g = groups[gi];
    if (refusedPhotos.get(g)?.has(x)) return false;
    const xToCentre = admits(x, g);
    if (Number.isNaN(xToCentre)) {
      const set = refusedPhotos.get(g) ?? new Set<number>();
      set.add(x);
      refusedPhotos.set(g, set);
      return false;
    }
    g.members.push(x);
    place(x, gi, xToCentre);
    return true;
  };
  const merge = (guest: Group, hostIndex: number): void => {
    const host = groups[hostIndex];
    if (refusedGroups.get(host)?.has(guest)) return;
    const scores = new Float64Array(guest.members.length);
    for (let i = 0; i < guest.members.length; i++) {
      const s = admits(guest.members[i], host);
      if (Number.isNaN(s)) {
        const set = refusedGroups.get(host) ?? new WeakSet<Group>();
        set.add(guest);
        refusedGroups.set(host, set);
        return;
      }
      scores[i] = s;
    }
    guest.members.forEach((x, i) => {
      host.members.push(x);
      place(x, hostIndex, scores[i]);
    });
    guest.members = [];
  };
  for (const e of order) {
    const a = edges.a[e];
    const b = edges.b[e];
    const s = edges.s[e];
    const ga = groupIndex[slot(a)];
    const gb = groupIndex[slot(b)];
    if (ga < 0 && gb < 0) {
      if (s < centreMin || !allowed(a, b) || !verifiedWithCentre(a, b)) continue;
      const centre = moreCentral(a, b) ? a : b;
      groups.push({ centre, members: [a, b] });
      place(a, groups.length - 1, centre === a ? 1 : s);
      place(b, groups.length - 1, centre === b ? 1 : s);
    } else if (ga >= 0 && gb < 0) {
      join(b, ga);
    } else if (ga < 0 && gb >= 0) {
      join(a, gb);
    } else if (ga !== gb) {
      const [host, guest] = moreCentral(groups[ga].centre, groups[gb].centre) ? [ga, gb] : [gb, ga];
      merge(groups[guest], host);
    }
  }
  return groups.filter((g) => g.members.length >= 2);
}

/** All duplicate groups, exact first, then near, then similar; within a tier largest first. */
export function findDuplicateGroups(options: FindDuplicateOptions): DuplicateGroup[] {
  const { matrix } = options;
  const t = resolveThresholds(options.thresholds);
  const tiers = new Set(options.tiers ?? ['exact', 'near', 'similar']);
  const photos = new ById(options.photos);
  const resolved = resolvedIndex(options.resolvedGroups ?? []);
  const isResolved = (hashes: string[]): boolean => {
    const candidates = resolved.get(hashes[0]);
    return !!candidates?.some((set) => hashes.every((h) => set.has(h)));
  };
  const dismissed = options.dismissedPairs;
  const allowed = (a: number, b: number): boolean => !dismissed?.(photos.get(a)!.contentHash, photos.get(b)!.contentHash);
  const better = (a: number, b: number): boolean => betterKeeper(photos.get(a)!, photos.get(b)!);

  const out: DuplicateGroup[] = [];

  if (tiers.has('exact')) {
    for (const p of photos.unique()) {
      const files = options.filesByPhoto?.get(p.id);
      if (!files || files.length < 2 || isResolved([p.contentHash])) continue;
      // Byte-identical files: nothing to choose between but the place; the shortest path is the
      // least nested copy.
      const sorted = [...files].sort((x, y) => x.length - y.length || (x < y ? -1 : x > y ? 1 : 0));
      out.push({
        tier: 'exact', key: duplicateGroupKey([p.contentHash]), members: [p.id], scores: [1], centre: p.id, keeper: p.id,
        keeperReason: `${files.length} byte-identical files: keep the one with the shortest path`, files: sorted, keeperFile: sorted[0],
      });
    }
  }
  if (!tiers.has('near') && !tiers.has('similar')) return out;

  const alternatives = options.alternatives;
  const score = (a: number, b: number): number => {
    let s = matrix.score(a, b)!;
    const altA = alternatives?.get(a);
    if (altA) for (const v of altA) s = Math.max(s, matrix.scoreWith(b, v)!);
    const altB = alternatives?.get(b);
    if (altB) for (const v of altB) s = Math.max(s, matrix.scoreWith(a, v)!);
    return s;
  };

  const inPlay = (id: number): boolean => photos.has(id) && matrix.has(id);
  const k = options.neighbours ?? 20;
  const graph = options.graph ?? matrix.allPairsAbove(t.similarMember, k);
  const edges = graphEdges(graph, inPlay, alternatives ? score : undefined);
  // A rotated copy is far from the original in the plain graph: its alternatives find it.
  if (alternatives) {
    const seen = new Set<number | string>();
    for (let e = 0; e < edges.length; e++) seen.add(pairKey(edges.a[e], edges.b[e]));
    for (const [id, vectors] of alternatives) {
      if (!inPlay(id)) continue;
      for (const v of vectors) {
        for (const hit of matrix.topK(v, k, { exclude: new Set([id]), minScore: t.similarMember })) {
          if (hit.id === id || !inPlay(hit.id) || seen.has(pairKey(id, hit.id))) continue;
          seen.add(pairKey(id, hit.id));
          edges.push(id, hit.id, score(id, hit.id));
        }
      }
    }
  }

  // The angle bound in growGroups needs plain dot products of unit vectors (descriptors are
  // L2-normalised; a caller's matrix might not be, and rotated alternatives are a max of several).
  let unitVectors = !alternatives;
  for (const { id } of photos.unique()) {
    if (!unitVectors) break;
    const self = matrix.score(id, id);
    if (self !== undefined && Math.abs(self - 1) > 1e-5) unitVectors = false;
  }
  const nearGroups = growGroups(edges, photos, t.near, t.nearMember, score, allowed, better, options.nearVerifier, unitVectors);
  if (tiers.has('near')) for (const g of nearGroups) pushGroup(out, 'near', g, photos, score, isResolved);

  if (tiers.has('similar')) {
    // Each near group is one unit, stood for by its centre; every other photo is its own unit.
    const unitOf = new Map<number, number>();
    const unitMembers = new Map<number, number[]>();
    for (const g of nearGroups) {
      for (const m of g.members) unitOf.set(m, g.centre);
      unitMembers.set(g.centre, g.members);
    }
    const unit = (id: number): number => unitOf.get(id) ?? id;
    const membersOf = (u: number): number[] => unitMembers.get(u) ?? [u];
    const unitAllowed = (u: number, v: number): boolean => membersOf(u).every((a) => membersOf(v).every((b) => allowed(a, b)));
    const unitEdges = new EdgeList();
    const seenUnits = new Set<number | string>();
    for (let e = 0; e < edges.length; e++) {
      const u = unit(edges.a[e]);
      const v = unit(edges.b[e]);
      if (u === v) continue;
      const key = pairKey(u, v);
      if (seenUnits.has(key)) continue;
      seenUnits.add(key);
      // An edge between two photos outside near groups is its own unit edge, score known.
      unitEdges.push(u, v, u === edges.a[e] && v === edges.b[e] ? edges.s[e] : score(u, v));
    }
    const similarGroups = growGroups(unitEdges, photos, t.similar, t.similarMember, score, unitAllowed, better, undefined, unitVectors);
    for (const g of similarGroups) pushGroup(out, 'similar', g, photos, score, isResolved);
  }

  const tierOrder: Record<DuplicateTier, number> = { exact: 0, near: 1, similar: 2 };
  return out.sort((x, y) => tierOrder[x.tier] - tierOrder[y.tier] || y.members.length - x.members.length || Math.min(...x.members) - Math.min(...y.members));
}

/**
 * One edge per unordered pair of the candidate graph, in play on both ends. A pair listed from
 * both rows is taken from the lower id's row, without a map of every pair seen: at 100k photos a
 * map keyed by pair held ~350 MB and took most of the grouping time. Scores are the graph's
 * (DescriptorMatrix scores) unless `rescore` is given (rotated alternatives change a pair's score).
 */
function graphEdges(graph: NeighbourGraph, inPlay: (id: number) => boolean, rescore?: (a: number, b: number) => number): EdgeList {
  const { ids, k, counts, neighbours, scores } = graph;
  const rowOf = new IdSlots(ids);
  const lists = (r: number, id: number): boolean => {
    for (let j = r * k, end = r * k + counts[r]; j < end; j++) if (neighbours[j] === id) return true;
    return false;
  };
  // Two passes, counting then filling, so the arrays are sized exactly: a pair listed from both
  // rows counts once, and sizing by all listed pairs held ~11 MB too many at 100k photos.
  const visit = (emit: (a: number, b: number, j: number) => void): void => {
    for (let r = 0; r < ids.length; r++) {
      const a = ids[r];
      if (!inPlay(a)) continue;
      for (let j = r * k, end = r * k + counts[r]; j < end; j++) {
        const b = neighbours[j];
        if (a === b || !inPlay(b)) continue;
        if (a > b) {
          const rb = rowOf.get(b);
          if (rb >= 0 && lists(rb, a)) continue;
        }
        emit(a, b, j);
      }
    }
  };
  let count = 0;
  visit(() => count++);
  const edges = new EdgeList(count);
  visit((a, b, j) => edges.push(a, b, rescore ? rescore(a, b) : scores[j]));
  return edges;
}

/** A Map key for an unordered pair of photo ids: a number while ids stay below 2^26 (exact), else text. */
function pairKey(a: number, b: number): number | string {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return lo >= 0 && hi < 2 ** 26 ? lo * 2 ** 26 + hi : `${lo} ${hi}`;
}

function pushGroup(
  out: DuplicateGroup[],
  tier: DuplicateTier,
  g: Group,
  photos: ById<DuplicatePhoto>,
  score: (a: number, b: number) => number,
  isResolved: (hashes: string[]) => boolean,
): void {
  const hashes = g.members.map((id) => photos.get(id)!.contentHash);
  if (isResolved(hashes)) return;
  const { keeper, reason } = chooseKeeper(g.members.map((id) => photos.get(id)!));
  const scored = g.members.map((id) => ({ id, s: id === g.centre ? 1 : score(id, g.centre) }));
  scored.sort((x, y) => (x.id === keeper.id ? -1 : y.id === keeper.id ? 1 : y.s - x.s || x.id - y.id));
  out.push({
    tier,
    key: duplicateGroupKey(hashes),
    members: scored.map((x) => x.id),
    scores: scored.map((x) => x.s),
    centre: g.centre,
    keeper: keeper.id,
    keeperReason: reason,
  });
}

/** hash → the resolved groups (as hash sets) containing it. */
function resolvedIndex(keys: Iterable<string>): Map<string, Set<string>[]> {
  const index = new Map<string, Set<string>[]>();
  for (const key of keys) {
    const set = new Set(key.split(','));
    for (const h of set) index.set(h, [...(index.get(h) ?? []), set]);
  }
  return index;
}
