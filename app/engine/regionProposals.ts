// The Region Proposal Network at inference (DESIGN.md §1.4): the head trained by app/train runs as
// a second onnxruntime session on the backbone's feature map, its proposals are decoded, NMS'd and
// cut to the top K, and those regions are max-pooled in place of the rigid grid. A scale where no
// proposal survives (a tiny map, a head that only proposes slivers) is pooled over the grid, and
// the scale says so: a photo must still get a descriptor.
import * as ort from 'onnxruntime-node';
import { anchorsPerCell, generateAnchors, proposeRegions, type AnchorSpec, type ProposalOptions } from './rpnAnchors.js';
import type { FeatureMap } from './regionPooling.js';
import { poolScale, type ImageGeometry, type ScaleDescription } from './rmacDescriptor.js';
import type { CellRegion, RmacGridOptions } from './rmacRegions.js';

export const RPN_FEATURE_INPUT = 'features';
export const RPN_OBJECTNESS_OUTPUT = 'rpn_objectness';
export const RPN_DELTAS_OUTPUT = 'rpn_deltas';

/** The head's session and what turns its output into regions (a registered RPN model's meta.rpn). */
export interface RegionProposer {
  session: ort.InferenceSession;
  anchors: AnchorSpec;
  proposals: ProposalOptions;
}

export interface CellProposal {
  /** In feature cells, as poolScale takes explicit regions. */
  cell: CellRegion;
  /** σ(objectness logit): the head's belief that the region holds the object, in (0, 1). */
  objectness: number;
}

/**
 * ONNX's NCHW outputs in generateAnchors' order: objectness [cells·A], deltas [cells·A·4]
 * (channel 4a + j of the deltas is delta j of anchor a, as the NHWC reshape in rpnHead reads it).
 */
export function onnxOutputsToAnchorOrder(objectness: Float32Array, deltas: Float32Array, anchors: number, width: number, height: number): { scores: Float32Array; deltas: Float32Array } {
  const plane = width * height;
  const scores = new Float32Array(plane * anchors);
  const ordered = new Float32Array(plane * anchors * 4);
  for (let p = 0; p < plane; p++) {
    for (let a = 0; a < anchors; a++) scores[p * anchors + a] = objectness[a * plane + p];
    for (let c = 0; c < 4 * anchors; c++) ordered[p * 4 * anchors + c] = deltas[c * plane + p];
  }
  return { scores, deltas: ordered };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * The exported head run on one NCHW feature map, proposals decoded, NMS'd and returned best first
 * in feature cells. `input` is the network input size in pixels (proposals are clipped to it).
 */
export async function proposeScoredCellRegions(session: ort.InferenceSession, map: FeatureMap, spec: AnchorSpec, input: { width: number; height: number }, options: Partial<ProposalOptions> = {}): Promise<CellProposal[]> {
  const features = new ort.Tensor('float32', map.data, [1, map.channels, map.height, map.width]);
  const result = await session.run({ [RPN_FEATURE_INPUT]: features });
  const objectness = result[RPN_OBJECTNESS_OUTPUT];
  const deltas = result[RPN_DELTAS_OUTPUT];
  const ordered = onnxOutputsToAnchorOrder(objectness.data as Float32Array, deltas.data as Float32Array, anchorsPerCell(spec), map.width, map.height);
  objectness.dispose?.();
  deltas.dispose?.();
  const proposals = proposeRegions(generateAnchors(map.width, map.height, spec), ordered.scores, ordered.deltas, input.width, input.height, options);
  const s = spec.stride;
  return proposals.map(({ box, score }) => ({
    cell: { x: box.x1 / s, y: box.y1 / s, width: (box.x2 - box.x1) / s, height: (box.y2 - box.y1) / s },
    objectness: sigmoid(score),
  }));
}

/** proposeScoredCellRegions without the scores. */
export async function proposeCellRegions(session: ort.InferenceSession, map: FeatureMap, spec: AnchorSpec, input: { width: number; height: number }, options: Partial<ProposalOptions> = {}): Promise<CellRegion[]> {
  return (await proposeScoredCellRegions(session, map, spec, input, options)).map((p) => p.cell);
}

/** Whether max-pooling the region reads at least one cell (a zero-width box on the edge does not). */
function coversACell(map: FeatureMap, r: CellRegion): boolean {
  return Math.min(map.width, Math.ceil(r.x + r.width)) > Math.max(0, Math.floor(r.x)) && Math.min(map.height, Math.ceil(r.y + r.height)) > Math.max(0, Math.floor(r.y));
}

/**
 * One scale of an RPN model: its top-K proposals pooled (regionSource 'rpn', each region with its
 * objectness), or the grid when none survives (regionSource 'grid-fallback').
 */
export async function poolScaleOverProposals(proposer: RegionProposer, map: FeatureMap, geometry: ImageGeometry, longSide: number, input: { width: number; height: number }, grid?: RmacGridOptions): Promise<ScaleDescription> {
  const proposals = (await proposeScoredCellRegions(proposer.session, map, proposer.anchors, input, proposer.proposals)).filter((p) => coversACell(map, p.cell));
  if (proposals.length === 0) return { ...poolScale(map, geometry, longSide, grid), regionSource: 'grid-fallback' };
  const pooled = poolScale(map, geometry, longSide, proposals.map((p) => p.cell));
  return {
    ...pooled,
    regionSource: 'rpn',
    regions: pooled.regions.map((r, i) => ({ ...r, objectness: proposals[i].objectness })),
  };
}
