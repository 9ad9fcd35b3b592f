// Verification on real photo pairs whose geometry is known independently of our features:
// graf1 → graf3 with the dataset's own homography, box → box_in_scene against points located by
// hand, and pairs that must not verify (different UKBench objects, different Paris landmarks).
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractFeatures, type LocalFeatures } from '../../app/match/localFeatures.js';
import { verifyPair, type PairVerification } from '../../app/match/geometricVerification.js';
import { MatchPool } from '../../app/match/matchPool.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const SCENES = path.join(DATA, 'scenes/opencv');
const OUTPUT = fileURLToPath(new URL('../../test-output/match/', import.meta.url));

type Homography = number[];

function project(h: Homography, x: number, y: number): [number, number] {
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

/** The 3×3 matrix of an OpenCV FileStorage XML file (H1to3p.xml). */
async function readOpenCvMatrix(file: string): Promise<Homography> {
  const xml = await fs.readFile(file, 'utf8');
  const data = /<data>([\s\S]*?)<\/data>/.exec(xml);
  const values = data![1].trim().split(/\s+/).map(Number);
  expect(values).toHaveLength(9);
  return values.map((v) => v / values[8]);
}

/** The homography through four exact correspondences (direct linear transform, solved by Gaussian elimination). */
function homographyThrough(points: ReadonlyArray<readonly [number, number, number, number]>): Homography {
  const rows: number[][] = [];
  for (const [x, y, u, v] of points) {
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(rows[r][c]) > Math.abs(rows[pivot][c])) pivot = r;
    [rows[c], rows[pivot]] = [rows[pivot], rows[c]];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = rows[r][c] / rows[c][c];
      for (let k = c; k < 9; k++) rows[r][k] -= f * rows[c][k];
    }
  }
  return [...rows.map((r, i) => r[8] / r[i]), 1];
}

function summary(v: PairVerification): string {
  return `${v.verified ? 'verified' : `not verified (${v.reason})`}: ${v.inliers}/${v.matches} ${v.model ?? ''}`;
}

let pool: MatchPool;

beforeAll(async () => {
  pool = await MatchPool.open({ workers: 2 });
});

afterAll(async () => {
  await pool?.close();
});

describe('graf1 → graf3 (OpenCV sample, true homography H1to3p.xml)', () => {
  let truth: Homography;
  let result: PairVerification;
  let g1: LocalFeatures;

  beforeAll(async () => {
    truth = await readOpenCvMatrix(path.join(SCENES, 'H1to3p.xml'));
    g1 = await extractFeatures(path.join(SCENES, 'graf1.png'));
    const g3 = await extractFeatures(path.join(SCENES, 'graf3.png'));
    result = verifyPair(g1, g3);
  });

  it('verifies with a homography that agrees with the true one to about a pixel at every inlier', () => {
    expect(result.verified, summary(result)).toBe(true);
    expect(result.model).toBe('homography');
    expect(result.inliers).toBeGreaterThan(200);
    expect(result.inlierRatio).toBeGreaterThan(0.6);
    // Reprojection error of the estimated homography against the true one, at the inliers.
    // Measured: mean 0.83 px, max 3.2 px at the edge of the wall (800 × 640 images, features at
    // full size, 5 px inlier threshold).
    const errors = result.inlierPairs.map(([x, y]) => {
      const [u, v] = project(truth, x, y);
      const [p, q] = project(result.transform!, x, y);
      return Math.hypot(u - p, v - q);
    });
    expect(errors.reduce((s, e) => s + e, 0) / errors.length).toBeLessThan(1.5);
    expect(Math.max(...errors)).toBeLessThan(4);
    // And the matched keypoints themselves land where the true homography sends them.
    const residuals = result.inlierPairs.map(([x, y, u, v]) => {
      const [p, q] = project(truth, x, y);
      return Math.hypot(p - u, q - v);
    }).sort((a, b) => a - b);
    expect(residuals[residuals.length >> 1]).toBeLessThan(2);
  });

  it('boxes the inliers inside each image and keeps one inlier pair per inlier', () => {
    expect(result.inlierPairs).toHaveLength(result.inliers);
    for (const [box, w, h] of [[result.boxA!, 800, 640], [result.boxB!, 800, 640]] as const) {
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(w);
      expect(box.y + box.height).toBeLessThanOrEqual(h);
      // The graffiti wall fills most of both photos.
      expect(box.width * box.height).toBeGreaterThan(0.3 * w * h);
    }
    for (const [x, y] of result.inlierPairs) {
      expect(x).toBeGreaterThanOrEqual(result.boxA!.x);
      expect(y).toBeLessThanOrEqual(result.boxA!.y + result.boxA!.height);
    }
  });

  it('gives the same verdict through the worker pool (onnxruntime matcher) as in this thread (OpenCV matcher)', async () => {
    const pooled = await pool.verify(path.join(SCENES, 'graf1.png'), path.join(SCENES, 'graf3.png'));
    expect(pooled.verified).toBe(true);
    expect(pooled.matches).toBe(result.matches);
    expect(pooled.inliers).toBe(result.inliers);
    expect(pooled.transform!.map((v) => v.toPrecision(6))).toEqual(result.transform!.map((v) => v.toPrecision(6)));
  });
});

describe('box.png found in box_in_scene.png (OpenCV sample)', () => {
  // Located by hand on 16× enlargements with a one-pixel grid (pixel centres at integers): the
  // outer corner of the light face of the box (top left, the only face corner not hidden in the
  // scene: the rice box covers the right side), and three corners of the dark frame around the
  // cookie photo (top left, bottom left, bottom right; the fourth is hidden too). Each is where
  // the light/dark edges cross, read to about half a pixel: [box.png x, y, scene x, y].
  const handPicked = [
    [3.5, 3.5, 118.5, 162.5],
    [140.0, 19.0, 185.0, 176.6],
    [139.3, 202.7, 165.3, 272.5],
    [279.5, 203.5, 244.0, 282.6],
  ] as const;
  // The light face's four corners in box.png, read the same way (the face is slightly rotated
  // in its own photo). In the scene only the first is visible; the others follow from the
  // homography through the hand-picked points.
  const faceCorners = [[3.5, 3.5], [320.5, 5.5], [320.0, 219.0], [0.5, 218.0]] as const;
  let result: PairVerification;

  beforeAll(async () => {
    const box = await extractFeatures(path.join(SCENES, 'box.png'));
    const scene = await extractFeatures(path.join(SCENES, 'box_in_scene.png'));
    result = verifyPair(box, scene);
  });

  it('verifies, and the estimated homography sends the hand-picked points within 2.5 px of where they are', () => {
    expect(result.verified, summary(result)).toBe(true);
    expect(result.model).toBe('homography');
    // Measured: 0.5–1.2 px.
    for (const [x, y, u, v] of handPicked) {
      const [p, q] = project(result.transform!, x, y);
      expect(Math.hypot(p - u, q - v), `(${x}, ${y}) → (${p.toFixed(1)}, ${q.toFixed(1)}), by hand (${u}, ${v})`).toBeLessThan(2.5);
    }
  });

  it('puts the box corners within 4 px of where the hand-picked points put them', async () => {
    const byHand = homographyThrough(handPicked);
    const drawn: Array<[number, number]> = [];
    for (const [x, y] of faceCorners) {
      const [p, q] = project(result.transform!, x, y);
      const [u, v] = project(byHand, x, y);
      drawn.push([p, q]);
      // Measured: 1.0 and 0.4 px at the left corners, 3.1 and 3.3 px at the right ones. Those are
      // hidden in the scene and extrapolated, by both homographies, from points 40–180 px away in
      // box.png, so half a pixel of reading error there grows here.
      expect(Math.hypot(p - u, q - v), `corner (${x}, ${y}): estimated (${p.toFixed(1)}, ${q.toFixed(1)}), by hand (${u.toFixed(1)}, ${v.toFixed(1)})`).toBeLessThan(4);
    }
    // The visible corner directly.
    const [p, q] = project(result.transform!, 3.5, 3.5);
    expect(Math.hypot(p - 118.5, q - 162.5)).toBeLessThan(2.5);
    // An overlay to look at: the estimated outline of the box face on the scene.
    await fs.mkdir(OUTPUT, { recursive: true });
    const outline = drawn.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
    const svg = `<svg width="512" height="384" xmlns="http://www.w3.org/2000/svg"><polygon points="${outline}" fill="none" stroke="#00ff00" stroke-width="1.5"/></svg>`;
    await sharp(path.join(SCENES, 'box_in_scene.png')).composite([{ input: Buffer.from(svg) }]).png().toFile(path.join(OUTPUT, 'box_in_scene_overlay.png'));
  });

  it('boxes the matched region: inside the box in box.png and inside its outline in the scene', () => {
    const a = result.boxA!;
    expect(a.x).toBeGreaterThanOrEqual(0);
    expect(a.x + a.width).toBeLessThanOrEqual(324);
    const b = result.boxB!;
    // The box face spans about x 90–290, y 160–295 in the scene.
    expect(b.x).toBeGreaterThan(85);
    expect(b.y).toBeGreaterThan(155);
    expect(b.x + b.width).toBeLessThan(295);
    expect(b.y + b.height).toBeLessThan(300);
  });
});

describe('pairs that must not verify', () => {
  it('ten different UKBench objects: none of the 45 pairs verifies', async () => {
    const dir = path.join(DATA, 'near-dup/base_images');
    // UKBench numbers each object's four photos consecutively, so these are ten different objects
    // (ukbench00120_gray is a grey copy of ukbench00120 and is left out).
    const files = (await fs.readdir(dir)).filter((f) => /^ukbench\d+\.jpg$/.test(f)).sort();
    expect(files).toHaveLength(10);
    expect(new Set(files.map((f) => Math.floor(Number(f.slice(7, 12)) / 4))).size).toBe(10);
    const verdicts: string[] = [];
    for (let i = 0; i < files.length; i++) {
      for (let j = i + 1; j < files.length; j++) {
        const v = await pool.verify(path.join(dir, files[i]), path.join(dir, files[j]));
        if (v.verified) verdicts.push(`${files[i]} ~ ${files[j]}: ${summary(v)}`);
      }
    }
    expect(verdicts).toEqual([]);
  });

  it('Paris photos of different landmarks: none of 250 cross pairs verifies, while same-landmark pairs do', async () => {
    const images = path.join(DATA, 'paris6k-mini/images');
    const landmarks = (await fs.readdir(images)).sort();
    expect(landmarks).toHaveLength(5);
    // Five photos per landmark, spread over each folder, junk and distractors included.
    const picked = await Promise.all(landmarks.map(async (l) => {
      const files = (await fs.readdir(path.join(images, l))).sort();
      return [0, 10, 20, 30, 40].map((i) => path.join(images, l, files[i]));
    }));
    const wrong: string[] = [];
    let crossPairs = 0;
    for (let a = 0; a < picked.length; a++) {
      for (let b = a + 1; b < picked.length; b++) {
        for (const fa of picked[a]) {
          for (const fb of picked[b]) {
            crossPairs++;
            const v = await pool.verify(fa, fb);
            if (v.verified) wrong.push(`${path.basename(fa)} ~ ${path.basename(fb)}: ${summary(v)}`);
          }
        }
      }
    }
    expect(crossPairs).toBe(250);
    expect(wrong).toEqual([]);
    // A positive control: two photos of the Eiffel tower (about 150 inliers when measured).
    const same = await pool.verify(path.join(images, 'eiffel_tower/paris_eiffel_000217.jpg'), path.join(images, 'eiffel_tower/paris_eiffel_000284.jpg'));
    expect(same.verified, summary(same)).toBe(true);
  });
});
