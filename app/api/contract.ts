// The one contract between the UI and the core (DESIGN.md §2). Every call and every event is
// declared here as a zod schema, so the same definitions type the renderer's client, validate
// payloads at both transports (Electron IPC and the `serve` HTTP server) and document the API.
// This file is imported by the renderer's browser bundle: it must import nothing but zod.
import { z } from 'zod';
import type { MediaKind } from './transportConstants.js';

const photoId = z.number().int().positive();
const finite = z.number().finite();

/** A box in the oriented original photo's pixels. */
export const PixelBoxSchema = z
  .object({ x: finite.min(0), y: finite.min(0), width: finite.positive(), height: finite.positive() })
  .strict();
export type PixelBox = z.infer<typeof PixelBoxSchema>;

export const IndexPhaseSchema = z.enum(['scan', 'hash', 'describe', 'whiten', 'done']);

export const IndexProgressSchema = z.object({
  phase: IndexPhaseSchema,
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  current: z.string().optional(),
  /** Photos per second over the phase so far. */
  rate: finite,
  /** Seconds left in the phase; null while unknown. */
  eta: finite.nullable(),
});
export type IndexProgress = z.infer<typeof IndexProgressSchema>;

export const IndexSummarySchema = z.object({
  scanned: z.number().int(),
  added: z.number().int(),
  reindexed: z.number().int(),
  unchanged: z.number().int(),
  moved: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  gone: z.number().int(),
  cancelled: z.boolean(),
  seconds: finite,
});
export type IndexSummary = z.infer<typeof IndexSummarySchema>;

export const IndexingStateSchema = z.object({
  state: z.enum(['idle', 'running', 'paused', 'cancelling']),
  progress: IndexProgressSchema.nullable(),
  /** The last finished run, if any in this session. */
  lastSummary: IndexSummarySchema.nullable(),
  /** Why the last run stopped, when it failed as a whole (one bad photo never does). */
  lastError: z.string().nullable(),
});
export type IndexingState = z.infer<typeof IndexingStateSchema>;

export const FolderSchema = z.object({
  id: z.number().int(),
  path: z.string(),
  addedAt: z.string(),
  lastScanAt: z.string().nullable(),
  status: z.enum(['ok', 'missing', 'unreadable']),
  error: z.string().nullable(),
});
export type Folder = z.infer<typeof FolderSchema>;

export const ModelInfoSchema = z.object({
  /** Descriptor version: the model id, plus the whitening's fingerprint when whitened. */
  id: z.string(),
  name: z.string(),
  dimension: z.number().int(),
  whitened: z.boolean(),
  /** 'grid': R-MAC's rigid grid; 'rpn': regions from a trained Region Proposal Network. */
  regions: z.enum(['grid', 'rpn']),
  /** onnxruntime execution providers in use, best first (e.g. ['cuda', 'cpu']). */
  executionProviders: z.array(z.string()),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

export const StatusSchema = z.object({
  database: z.string(),
  model: ModelInfoSchema,
  photos: z.object({ pending: z.number().int(), indexed: z.number().int(), failed: z.number().int(), gone: z.number().int() }),
  failures: z.number().int(),
  folders: z.array(FolderSchema),
  indexing: IndexingStateSchema,
  /** Where "move to trash" puts files: the OS trash (Electron) or a .sightline-trash folder. */
  trash: z.enum(['os', 'folder']),
});
export type Status = z.infer<typeof StatusSchema>;

export const PhotoSummarySchema = z.object({
  id: photoId,
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  takenAt: z.string().nullable(),
  /** The first present file's path as shown to the user; '' when no file is present. */
  path: z.string(),
  name: z.string(),
  status: z.enum(['pending', 'indexed', 'failed', 'gone']),
});
export type PhotoSummary = z.infer<typeof PhotoSummarySchema>;

export const PhotoDetailSchema = PhotoSummarySchema.extend({
  contentHash: z.string(),
  size: z.number().int(),
  format: z.string().nullable(),
  cameraMake: z.string().nullable(),
  cameraModel: z.string().nullable(),
  gpsLat: finite.nullable(),
  gpsLon: finite.nullable(),
  sharpness: finite.nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  files: z.array(z.object({ path: z.string(), present: z.boolean(), size: z.number().int() })),
});
export type PhotoDetail = z.infer<typeof PhotoDetailSchema>;

export const PhotoPageSchema = z.object({ total: z.number().int(), offset: z.number().int(), items: z.array(PhotoSummarySchema) });
export type PhotoPage = z.infer<typeof PhotoPageSchema>;

export const FailureSchema = z.object({ path: z.string(), code: z.string(), message: z.string(), at: z.string() });
export type Failure = z.infer<typeof FailureSchema>;

/** What a search or a heatmap compares against: an indexed photo or an image the user dropped in. */
export const QuerySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('photo'), photoId, box: PixelBoxSchema.optional() }).strict(),
  z.object({ kind: z.literal('upload'), uploadId: z.string().regex(/^[0-9a-f]{32}$/), box: PixelBoxSchema.optional() }).strict(),
]);
export type Query = z.infer<typeof QuerySchema>;

export const SearchHitSchema = z.object({
  photoId,
  score: finite,
  path: z.string(),
  name: z.string(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
});
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchResultSchema = z.object({
  query: QuerySchema,
  hits: z.array(SearchHitSchema),
  /** Milliseconds the core spent, query description included. */
  ms: finite,
});
export type SearchResult = z.infer<typeof SearchResultSchema>;

export const HeatRegionSchema = z.object({
  box: PixelBoxSchema,
  /** Its contribution to the score (query side: region · result descriptor / ‖Σ regions‖). */
  heat: finite,
});

export const MatchHeatmapSchema = z.object({
  score: finite,
  query: z.object({ width: z.number().int(), height: z.number().int(), regions: z.array(HeatRegionSchema) }),
  result: z.object({ width: z.number().int(), height: z.number().int(), regions: z.array(HeatRegionSchema) }),
  /** The region pairs that add most to the score, largest first. Indexes into the regions above. */
  pairs: z.array(z.object({ query: z.number().int(), result: z.number().int(), contribution: finite })),
});
export type MatchHeatmap = z.infer<typeof MatchHeatmapSchema>;

/** Where a result matches the query: local features matched and verified geometrically. */
export const MatchVerificationSchema = z.object({
  verified: z.boolean(),
  /** Why it is not verified (null when it is). */
  reason: z.string().nullable(),
  /** Matches that passed the ratio test, and those the fitted transform explains. */
  matches: z.number().int(),
  inliers: z.number().int(),
  inlierRatio: finite,
  model: z.enum(['homography', 'affine']).nullable(),
  /** The inliers' bounding box in each photo (original pixels). */
  queryBox: PixelBoxSchema.nullable(),
  resultBox: PixelBoxSchema.nullable(),
  /** Inlier correspondences [xQuery, yQuery, xResult, yResult] in original pixels, at most maxLines. */
  lines: z.array(z.tuple([finite, finite, finite, finite])),
  query: z.object({ width: z.number().int(), height: z.number().int() }),
  result: z.object({ width: z.number().int(), height: z.number().int() }),
});
export type MatchVerification = z.infer<typeof MatchVerificationSchema>;

export const RegionOverlaySchema = z.object({
  kind: z.enum(['grid', 'rpn']),
  /** What the UI shows as the overlay's legend. */
  label: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  /** weight: the region's share of the photo's descriptor; objectness: σ of the RPN head's logit for a pooled proposal, in (0, 1) (rpn only, else null). */
  regions: z.array(z.object({ box: PixelBoxSchema, weight: finite, objectness: finite.nullable() })),
});
export type RegionOverlay = z.infer<typeof RegionOverlaySchema>;

export const DuplicateTierSchema = z.enum(['exact', 'near', 'similar']);
export type DuplicateTier = z.infer<typeof DuplicateTierSchema>;

export const DuplicateMemberSchema = z.object({
  photoId,
  /** Similarity to the group's centre. */
  score: finite,
  path: z.string(),
  name: z.string(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  size: z.number().int(),
  format: z.string().nullable(),
  sharpness: finite.nullable(),
  takenAt: z.string().nullable(),
});
export type DuplicateMember = z.infer<typeof DuplicateMemberSchema>;

export const DuplicateGroupSchema = z.object({
  key: z.string(),
  tier: DuplicateTierSchema,
  /** The keeper first. */
  members: z.array(DuplicateMemberSchema),
  keeper: photoId,
  keeperReason: z.string(),
  /** Exact tier: the one photo's byte-identical files, the suggested one to keep first; [] otherwise. */
  files: z.array(z.string()),
  keeperFile: z.string().nullable(),
});
export type DuplicateGroup = z.infer<typeof DuplicateGroupSchema>;

export const DuplicateGroupsSchema = z.object({ rule: z.string(), groups: z.array(DuplicateGroupSchema) });
export type DuplicateGroups = z.infer<typeof DuplicateGroupsSchema>;

export const DecisionResultSchema = z.object({
  decisionId: z.number().int(),
  /** Files moved to the trash (trash_others only). */
  trashed: z.array(z.string()),
  /** Files that could not be moved, with why; the decision is still recorded for the rest. */
  trashFailures: z.array(z.object({ path: z.string(), reason: z.string() })),
});
export type DecisionResult = z.infer<typeof DecisionResultSchema>;

export const UndoResultSchema = z.object({
  undone: z.boolean(),
  /** Files put back from a .sightline-trash folder. */
  restored: z.array(z.string()),
  /** Files that cannot be put back automatically (e.g. they went to the OS trash), with why. */
  notRestored: z.array(z.object({ path: z.string(), reason: z.string() })),
});
export type UndoResult = z.infer<typeof UndoResultSchema>;

export const PlaceSchema = z.object({
  representative: photoId,
  count: z.number().int(),
  members: z.array(photoId),
  cohesion: finite,
});
export type Place = z.infer<typeof PlaceSchema>;

// ---- Learn from my library ---------------------------------------------------------------------

export const LearningPhaseSchema = z.enum(['mining', 'verifying', 'describing', 'training', 'evaluating', 'switching']);
export type LearningPhase = z.infer<typeof LearningPhaseSchema>;

export const LearningProgressSchema = z.object({
  phase: LearningPhaseSchema,
  done: z.number().int().min(0),
  /** 0 while unknown. */
  total: z.number().int().min(0),
  /** Items (clusters, pairs, photos, training steps) per second in this phase. */
  rate: finite,
  /** Seconds left in the phase; null while unknown. */
  eta: finite.nullable(),
});
export type LearningProgress = z.infer<typeof LearningProgressSchema>;

/** A share from 0 to 1; null when there was nothing to measure. */
const share = finite.min(0).max(1).nullable();

export const WhiteningScoreSchema = z.object({
  key: z.enum(['current', 'pca', 'learned']),
  label: z.string(),
  /** Held-out photos ranking each other; positives are the photos of the same verified place. */
  mAP: share,
  recallAt1: share,
});
export type WhiteningScore = z.infer<typeof WhiteningScoreSchema>;

const PartSizeSchema = z.object({ places: z.number().int().min(0), photos: z.number().int().min(0), pairs: z.number().int().min(0) });

export const LearningReportSchema = z.object({
  startedAt: z.string(),
  seconds: finite,
  dryRun: z.boolean(),
  mining: z.object({
    clusters: z.number().int(),
    photosChecked: z.number().int(),
    candidatePairs: z.number().int(),
    verifiedPairs: z.number().int(),
    places: z.number().int(),
    photos: z.number().int(),
  }),
  split: z.object({ seed: z.number().int(), heldOutShare: finite, training: PartSizeSchema, heldOut: PartSizeSchema, unreadable: z.number().int() }),
  training: z.object({ epochs: z.number().int(), steps: z.number().int(), seconds: finite, backend: z.string(), trainingMAP: z.object({ before: share, after: share }) }),
  /** The whitening in use, PCA fitted on the training places, the learned one: on the held-out places. */
  evaluation: z.array(WhiteningScoreSchema),
  decision: z.object({ switched: z.boolean(), reason: z.string(), minGain: finite }),
  /** Descriptor versions before and after. */
  whitening: z.object({ before: z.string(), after: z.string() }),
});
export type LearningReport = z.infer<typeof LearningReportSchema>;

export const LearningStateSchema = z.object({
  state: z.enum(['idle', 'running', 'cancelling']),
  progress: LearningProgressSchema.nullable(),
  /** The last run in this session, if any. */
  lastRun: z
    .object({
      outcome: z.enum(['finished', 'cancelled', 'failed']),
      at: z.string(),
      report: LearningReportSchema.nullable(),
      error: z.string().nullable(),
      /** The library holds too few verified places: the error says what was found and what is needed. */
      notEnoughPlaces: z.boolean(),
    })
    .nullable(),
  /** What the library's descriptors are whitened with now, in words. */
  current: z.string(),
  /** The last switch, while it can be undone. */
  undo: z
    .object({ switchedAt: z.string(), previous: z.string(), heldOutMAP: z.object({ before: finite, after: finite }) })
    .nullable(),
  requirements: z.object({ minPlaces: z.number().int(), minPhotosPerPlace: z.number().int(), heldOutShare: finite }),
});
export type LearningState = z.infer<typeof LearningStateSchema>;

/** Images dropped into the UI travel as base64 (both transports carry JSON-safe values). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

const empty = z.object({}).strict();

/** Every call: its input and output. Method names are the IPC channel / HTTP route suffixes. */
export const apiMethods = {
  getStatus: { input: empty, output: StatusSchema },
  listFolders: { input: empty, output: z.array(FolderSchema) },
  /** Adds a folder and starts indexing it. */
  addFolder: { input: z.object({ path: z.string().min(1).max(4096) }).strict(), output: FolderSchema },
  /** Forgets a folder; its photos' descriptors and decisions stay, keyed by content. */
  removeFolder: { input: z.object({ folderId: z.number().int().positive() }).strict(), output: z.object({ removed: z.boolean() }) },
  /** Re-indexes every folder (a reconciliation: unchanged files cost a stat). */
  startIndexing: { input: empty, output: IndexingStateSchema },
  pauseIndexing: { input: empty, output: IndexingStateSchema },
  resumeIndexing: { input: empty, output: IndexingStateSchema },
  cancelIndexing: { input: empty, output: IndexingStateSchema },
  listFailures: {
    input: z.object({ offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(200) }).strict(),
    output: z.object({ total: z.number().int(), items: z.array(FailureSchema) }),
  },
  listPhotos: {
    input: z
      .object({
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(2000).default(500),
        sort: z.enum(['date', 'folder']).default('date'),
        direction: z.enum(['asc', 'desc']).default('desc'),
      })
      .strict(),
    output: PhotoPageSchema,
  },
  getPhoto: { input: z.object({ photoId }).strict(), output: PhotoDetailSchema },
  search: {
    input: z
      .object({ query: QuerySchema, top: z.number().int().min(1).max(1000).default(60), qe: z.number().int().min(0).max(50).default(0) })
      .strict(),
    output: SearchResultSchema,
  },
  /** Keeps an outside image in the core for a while, so searches and heatmaps can refer to it. */
  uploadImage: {
    input: z.object({ name: z.string().max(1024), dataBase64: z.string().min(1).max(Math.ceil(MAX_UPLOAD_BYTES / 3) * 4) }).strict(),
    output: z.object({ uploadId: z.string(), width: z.number().int(), height: z.number().int() }),
  },
  matchHeatmap: {
    input: z.object({ query: QuerySchema, resultPhotoId: photoId, pairs: z.number().int().min(0).max(50).default(8) }).strict(),
    output: MatchHeatmapSchema,
  },
  /** Local-feature matching + geometric verification of the query against one result (slower: ~0.1–1 s). */
  verifyMatch: {
    input: z.object({ query: QuerySchema, resultPhotoId: photoId, maxLines: z.number().int().min(0).max(2000).default(80) }).strict(),
    output: MatchVerificationSchema,
  },
  regionOverlay: { input: z.object({ photoId }).strict(), output: RegionOverlaySchema },
  duplicateGroups: { input: z.object({ tier: DuplicateTierSchema.optional() }).strict(), output: DuplicateGroupsSchema },
  /**
   * keep_all: the group is resolved, every photo stays. trash_others: the keeper stays, the others'
   * files go to the trash (never a hard delete). not_duplicates: these photos are not duplicates.
   */
  decideDuplicates: {
    input: z
      .object({
        action: z.enum(['keep_all', 'trash_others', 'not_duplicates']),
        members: z.array(photoId).min(2).max(10_000),
        keeper: photoId.optional(),
      })
      .strict()
      .refine((d) => d.action !== 'trash_others' || d.keeper !== undefined, { message: 'trash_others needs a keeper', path: ['keeper'] })
      .refine((d) => d.keeper === undefined || d.members.includes(d.keeper), { message: 'the keeper must be one of the members', path: ['keeper'] }),
    output: DecisionResultSchema,
  },
  /**
   * The exact tier: one photo in several byte-identical files. keep_all settles the group;
   * trash_others keeps `keepPath` and moves the other copies to the trash.
   */
  decideCopies: {
    input: z
      .object({ photoId, action: z.enum(['keep_all', 'trash_others']), keepPath: z.string().min(1).max(4096).optional() })
      .strict()
      .refine((d) => d.action !== 'trash_others' || d.keepPath !== undefined, { message: 'trash_others needs keepPath', path: ['keepPath'] }),
    output: DecisionResultSchema,
  },
  undoDecision: { input: z.object({ decisionId: z.number().int().positive() }).strict(), output: UndoResultSchema },
  places: { input: empty, output: z.object({ places: z.array(PlaceSchema) }) },
  learningStatus: { input: empty, output: LearningStateSchema },
  /**
   * Starts "Learn from my library": verified places → held-out split → learned whitening, switched
   * to only if it ranks the held-out places better (never with dryRun). Progress comes as events.
   */
  learnFromLibrary: {
    input: z.object({ dryRun: z.boolean().default(false), epochs: z.number().int().min(1).max(100).optional() }).strict(),
    output: LearningStateSchema,
  },
  cancelLearning: { input: empty, output: LearningStateSchema },
  /** Goes back to the whitening in use before the last switch. */
  revertLearning: { input: empty, output: LearningStateSchema },
} as const;

export type ApiMethod = keyof typeof apiMethods;
export type ApiInput<M extends ApiMethod> = z.input<(typeof apiMethods)[M]['input']>;
export type ApiParsedInput<M extends ApiMethod> = z.output<(typeof apiMethods)[M]['input']>;
export type ApiOutput<M extends ApiMethod> = z.output<(typeof apiMethods)[M]['output']>;

/** What a client calls. Inputs may omit defaulted fields. */
export type SightlineApi = { [M in ApiMethod]: (input: ApiInput<M>) => Promise<ApiOutput<M>> };

/** What the core implements: it receives inputs with defaults applied. */
export type SightlineApiHandlers = { [M in ApiMethod]: (input: ApiParsedInput<M>) => Promise<ApiOutput<M>> };

export const API_METHOD_NAMES = Object.keys(apiMethods) as ApiMethod[];

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(apiMethods, name);
}

/** Events the core pushes to every window. */
export const ApiEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('indexing'), indexing: IndexingStateSchema }),
  /** Photos, folders or decisions changed: views showing them should reload. */
  z.object({ type: z.literal('libraryChanged'), reason: z.enum(['indexed', 'folders', 'decisions', 'trash', 'whitening']) }),
  z.object({ type: z.literal('learning'), learning: LearningStateSchema }),
]);
export type ApiEvent = z.infer<typeof ApiEventSchema>;

export const ApiErrorCodeSchema = z.enum(['bad_request', 'not_found', 'conflict', 'unavailable', 'forbidden', 'internal']);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;

/** What a transport returns for a call: never a thrown exception across the boundary. */
export const ApiResponseSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ code: ApiErrorCodeSchema, message: z.string() }) }),
]);
export type ApiResponse = z.infer<typeof ApiResponseSchema>;

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export * from './transportConstants.js';
/** The preload's bridge: the only thing the renderer sees of Electron. */
export interface SightlineBridge {
  call(method: ApiMethod, input: unknown): Promise<ApiResponse>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** The native folder picker; null when the user cancels. */
  pickFolder(): Promise<string | null>;
  mediaUrl(kind: MediaKind, photoId: number): string;
}

