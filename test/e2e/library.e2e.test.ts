// The UI as a user meets it, in Chromium against `sightline serve`: add a folder, watch it index,
// open a photo of the Eiffel tower, draw a box on it, and check that the results are the Eiffel
// tower, that the match heatmap and region overlay are drawn, and that the matched points of a
// result are. Screenshots of every view go to test-output/screenshots/ for a person to look at.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addFolderInUi, copyPhotoSubset, countJpegs, e2eRequirements, openBrowserLibrary, projectRoot, screenshotDir, waitForIndexedPhotos, type BrowserLibrary } from './browserHarness.js';

const PHOTOS = path.resolve(projectRoot, '../shared/data/paris6k-mini/images');
/** Query 3 of the Eiffel tower in Paris6k's ground truth: the photo and its box (x1 y1 x2 y2). */
const QUERY_PHOTO = 'paris_eiffel_000266.jpg';
const QUERY_BOX = { x1: 348, y1: 3, x2: 595, y2: 508 };

const { chromiumPath, why } = e2eRequirements('library.e2e', PHOTOS);

describe.skipIf(why !== null)('the library in the browser', () => {
  let session: BrowserLibrary;
  let page: Page;
  let photoDir: string;
  let photoCount: number;

  const shot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });

  beforeAll(async () => {
    session = await openBrowserLibrary(chromiumPath!, { photos: () => copyPhotoSubset(PHOTOS, Infinity) });
    ({ page, photoDir } = session);
    photoCount = countJpegs(photoDir);
  }, 300_000);

  afterAll(() => session?.close());

  it('opens on the Library when the library is empty', async () => {
    await page.getByTestId('folder-path-input').waitFor();
    await expect(page.getByTestId('nav-library').getAttribute('aria-current')).resolves.toBe('page');
    await shot('01-library-empty');
  });

  it('shows the reason when a folder cannot be added', async () => {
    await addFolderInUi(page, path.join(photoDir, 'no-such-folder'));
    const toast = page.getByTestId('error-toast').first();
    await toast.waitFor({ timeout: 30_000 });
    expect(await toast.textContent()).toContain('Could not add the folder');
    await shot('02-error-toast');
    await toast.getByRole('button', { name: 'Dismiss' }).click();
  });

  it('indexes a folder added by its path, showing progress', async () => {
    await addFolderInUi(page, photoDir);
    const progress = page.getByTestId('index-progress');
    await page.waitForFunction(() => document.querySelector('[data-testid=index-progress]')?.getAttribute('data-phase') === 'describe', null, { timeout: 120_000 });
    await page.waitForTimeout(1500);
    await shot('03-library-indexing');
    expect(await progress.textContent()).toMatch(/photos\/s/);
    await waitForIndexedPhotos(page, photoCount);
    await shot('04-library-indexed');
  }, 600_000);

  it('shows every photo in the grid and moves through it with the keyboard', async () => {
    await page.getByTestId('nav-photos').click();
    await page.getByTestId('grid-cell').first().waitFor();
    // Every thumbnail in view loaded and decoded (they decode asynchronously), so the screenshot
    // shows the grid as a user sees it a moment later, not half-painted tiles.
    await page.waitForFunction(() => {
      const inView = Array.from(document.querySelectorAll<HTMLImageElement>('[data-testid=grid-cell] img')).filter((i) => {
        const r = i.getBoundingClientRect();
        return r.bottom > 0 && r.top < window.innerHeight;
      });
      return inView.length > 0 && inView.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout: 30_000 });
    await page.evaluate(() => Promise.all(Array.from(document.querySelectorAll<HTMLImageElement>('[data-testid=grid-cell] img'))
      .filter((i) => i.complete && i.naturalWidth > 0)
      .map((i) => i.decode().catch(() => undefined))));
    await shot('05-photos');
    // By folder, A → Z, then page down until the query photo is on screen.
    await page.keyboard.press('f');
    await page.getByRole('button', { name: /Z → A|A → Z/ }).waitFor();
    if ((await page.getByRole('button', { name: /Z → A/ }).count()) > 0) await page.keyboard.press('v');
    await page.keyboard.press('Home');
    const cell = page.locator(`[data-testid=grid-cell][aria-label="${QUERY_PHOTO}"]`);
    for (let i = 0; i < 60 && (await cell.count()) === 0; i++) {
      await page.keyboard.press('PageDown');
      await page.waitForTimeout(150);
    }
    await cell.click();
  }, 120_000);

  it('opens the photo and searches for what is in a box drawn with the mouse', async () => {
    const image = page.getByTestId('viewer-image');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=viewer-image]') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0 && img.dataset.originalWidth !== undefined;
    });
    await shot('06-viewer');
    const original = await image.evaluate((img) => ({ width: Number(img.dataset.originalWidth), height: Number(img.dataset.originalHeight) }));
    const shown = (await image.boundingBox())!;
    const at = (x: number, y: number) => ({ x: shown.x + (x / original.width) * shown.width, y: shown.y + (y / original.height) * shown.height });
    const from = at(QUERY_BOX.x1, QUERY_BOX.y1 + 2);
    const to = at(QUERY_BOX.x2, QUERY_BOX.y2);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    await page.getByTestId('selection-box').waitFor();
    await shot('07-viewer-box');

    await page.getByTestId('search-box').click();
    await page.getByTestId('result-card').first().waitFor({ timeout: 120_000 });
    const top5 = await page.getByTestId('result-card').evaluateAll((cards) => cards.slice(0, 5).map((c) => ({ path: c.getAttribute('title') ?? '', score: Number(c.getAttribute('data-score')) })));
    const eiffel = top5.filter((r) => r.path.includes(`${path.sep}eiffel_tower${path.sep}`));
    expect(eiffel.length, `top 5: ${top5.map((r) => `${path.basename(r.path)} ${r.score.toFixed(3)}`).join(', ')}`).toBeGreaterThanOrEqual(3);
    expect(top5.map((r) => r.score)).toEqual([...top5.map((r) => r.score)].sort((a, b) => b - a));
  }, 180_000);

  it('draws the match heatmap of a selected result', async () => {
    await page.getByTestId('result-card').nth(1).click();
    await page.getByTestId('heatmap-view').waitFor();
    const painted = await page.waitForFunction(
      () => {
        const canvas = document.querySelector('[data-testid=heatmap-canvas]') as HTMLCanvasElement | null;
        const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
        if (!data) return 0;
        let coloured = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) coloured++;
        return coloured;
      },
      null,
      { timeout: 60_000 },
    );
    expect(await painted.jsonValue()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=heatmap-view] rect[data-rank]').count()).toBeGreaterThan(0);
    await page.waitForTimeout(500);
    await shot('08-results-heatmap');
  }, 120_000);

  it('overlays the regions the descriptors pool over, with their legend', async () => {
    await page.getByTestId('region-overlay-toggle').check();
    await page.locator('[data-testid=heatmap-view] [data-testid=region-overlay] rect').first().waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('heatmap-view').textContent()).toMatch(/rigid grid|RPN proposals/i);
    await page.waitForTimeout(300);
    await shot('09-region-overlay');
  }, 120_000);

  it('shows where a result matches, point for point, in the Matched points mode', async () => {
    const summary = page.locator('[data-testid=match-points-view][aria-busy=false] [data-testid=match-summary]');
    /** The summary once the selected result is checked; with its lines when verified, none when not. */
    const checked = async () => {
      await summary.waitFor({ timeout: 90_000 });
      const text = (await summary.textContent())?.trim() ?? '';
      expect(text).toMatch(/^(Verified: \d+ of \d+ matches agree on one (homography|affine transform) \(\d+ %\)|Not verified: .+)$/);
      const verified = (await summary.getAttribute('data-verified')) === 'true';
      const lines = await page.locator('[data-testid=match-lines] line').count();
      if (verified) expect(lines).toBeGreaterThan(0);
      else expect(lines).toBe(0);
      return { text, verified, lines };
    };

    // The result the heatmap showed, switched with the M key: verified or not, it says which.
    await page.keyboard.press('m');
    await page.getByTestId('match-points-view').waitFor();
    expect(await page.getByTestId('mode-points').getAttribute('aria-pressed')).toBe('true');
    const first = await checked();
    await page.waitForTimeout(300);
    if (!first.verified) await shot('08c-matched-points-not-verified');

    // Eiffel tower photos from other viewpoints whose local features verify against the box.
    let shown: Awaited<ReturnType<typeof checked>> | null = first.verified ? first : null;
    for (const name of ['paris_eiffel_000051.jpg', 'paris_eiffel_000091.jpg', 'paris_eiffel_000285.jpg', 'paris_eiffel_000199.jpg']) {
      const card = page.locator(`[data-testid=result-card][title$="${path.sep}${name}"]`);
      if ((await card.count()) === 0) continue;
      await card.click();
      await page.locator('[data-testid=heatmap-view] h2', { hasText: name }).waitFor();
      const outcome = await checked();
      if (outcome.verified) {
        shown = outcome;
        break;
      }
    }
    expect(shown, `no result verified; the first said: ${first.text}`).not.toBeNull();

    // Every line runs from a point in the query's pane to one in the result's.
    const stray = await page.evaluate(() => {
      const rectOf = (id: string) => document.querySelector(`[data-testid=${id}]`)!.getBoundingClientRect();
      const [svg, query, result] = [rectOf('match-lines'), rectOf('match-pane-query'), rectOf('match-pane-result')];
      const inside = (r: DOMRect, x: number, y: number) => x >= r.left - 1 && x <= r.right + 1 && y >= r.top - 1 && y <= r.bottom + 1;
      return Array.from(document.querySelectorAll('[data-testid=match-lines] line')).filter((l) => {
        const at = (name: string) => Number(l.getAttribute(name));
        return !inside(query, svg.left + at('x1'), svg.top + at('y1')) || !inside(result, svg.left + at('x2'), svg.top + at('y2'));
      }).length;
    });
    expect(stray).toBe(0);
    expect(await page.locator('[data-testid=match-lines] .inlier-box').count()).toBe(2);
    await page.waitForTimeout(500);
    await shot('08b-matched-points');

    // And back to the heatmap, as it was.
    await page.keyboard.press('m');
    await page.locator('[data-testid=heatmap-view][data-mode=heatmap] [data-testid=heatmap-canvas]').waitFor({ timeout: 60_000 });
  }, 240_000);

  it('lists the keyboard shortcuts of the current view on ?', async () => {
    await page.keyboard.press('?');
    const help = page.getByTestId('help-overlay');
    await help.waitFor();
    expect(await help.textContent()).toContain('threshold');
    expect(await help.textContent()).toContain('matched points');
    await shot('10-help');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
  });

  it('searches with an image picked from outside the library', async () => {
    const outside = path.join(PHOTOS, 'eiffel_tower', QUERY_PHOTO);
    await page.locator('input[type=file]').setInputFiles(outside);
    await page.getByText('Dropped image').waitFor({ timeout: 60_000 });
    await page.getByTestId('result-card').first().waitFor({ timeout: 60_000 });
    // The library holds a copy of that very file: it must come first.
    expect(await page.getByTestId('result-card').first().getAttribute('title')).toContain(QUERY_PHOTO);
    await page.getByTestId('heatmap-view').waitFor();
    await page.waitForTimeout(1000);
    await shot('11-search-by-image');
  }, 120_000);

  it('mounts the Duplicates and Places views', async () => {
    await page.getByTestId('nav-duplicates').click();
    await page.locator('[data-testid=duplicates-view][aria-busy=false]').waitFor({ timeout: 90_000 });
    await page.waitForTimeout(1000);
    await shot('12-duplicates');
    await page.getByTestId('nav-places').click();
    await page.waitForTimeout(4000);
    await shot('13-places');
  }, 120_000);

  it('ran without page errors or CSP violations', () => {
    expect(session.problems).toEqual([]);
  });
});
