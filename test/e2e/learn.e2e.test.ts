// "Learn from my library" as a user meets it, in Chromium against `sightline serve`: on an empty
// library Start says why it cannot; then a folder of real Paris photos (12 of each of the five
// landmarks) is indexed, the Learn view runs with two training passes, its progress shows step
// by step, and the held-out before/after table and the decision appear. The server runs with the
// switch margin lowered (SIGHTLINE_LEARN_MIN_GAIN=-1), so that the run switches whatever a handful
// of held-out photos say and the Undo path is driven too; whether a gain is enough is the unit
// tests' (test/learn/switchRule.test.ts). Screenshots go to test-output/screenshots/learn-*.png.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addFolderInUi, copyPhotoSubset, countJpegs, e2eRequirements, openBrowserLibrary, projectRoot, screenshotDir, waitForIndexedPhotos, type BrowserLibrary } from './browserHarness.js';

const PHOTOS = path.resolve(projectRoot, '../shared/data/paris6k-mini/images');
const PER_LANDMARK = 12;

const { chromiumPath, why } = e2eRequirements('learn.e2e', PHOTOS);

describe.skipIf(why !== null)('learning from the library in the browser', () => {
  let session: BrowserLibrary;
  let page: Page;
  let photoCount: number;

  const shot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `learn-${name}.png`), fullPage: true });

  beforeAll(async () => {
    session = await openBrowserLibrary(chromiumPath!, { photos: () => copyPhotoSubset(PHOTOS, PER_LANDMARK), env: { SIGHTLINE_LEARN_MIN_GAIN: '-1' } });
    page = session.page;
    photoCount = countJpegs(session.photoDir);
  }, 300_000);

  afterAll(() => session?.close());

  it('explains itself and says why it cannot start on an empty library', async () => {
    await page.getByTestId('folder-path-input').waitFor();
    // Alt+6 is the Learn section's shortcut.
    await page.keyboard.press('Alt+Digit6');
    await page.getByTestId('learn-view').waitFor();
    await expect(page.getByTestId('nav-learn').getAttribute('aria-current')).resolves.toBe('page');
    expect(await page.getByTestId('learn-current').textContent()).toContain('no whitening');
    await page.getByTestId('learn-start').click();
    const toast = page.getByTestId('error-toast').first();
    await toast.waitFor({ timeout: 30_000 });
    expect(await toast.textContent()).toMatch(/Could not start learning: .*no indexed photos/);
    await shot('01-empty');
    await toast.getByRole('button', { name: 'Dismiss' }).click();
  });

  it('indexes the photos', async () => {
    await page.getByTestId('nav-library').click();
    await addFolderInUi(page, session.photoDir);
    await waitForIndexedPhotos(page, photoCount);
  }, 600_000);

  it('learns with progress by step, then shows the held-out before/after and the decision', async () => {
    await page.getByTestId('nav-learn').click();
    await page.getByTestId('learn-view').waitFor();
    await page.getByText('Options').click();
    await page.getByTestId('learn-epochs').fill('2');
    await page.getByTestId('learn-start').click();

    const progress = page.getByTestId('learn-progress');
    await progress.waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid=learn-progress]')?.getAttribute('data-phase') === 'verifying', null, { timeout: 120_000 });
    await page.waitForFunction(() => /\d+ \/ \d+/.test(document.querySelector('[data-testid=learn-progress]')?.textContent ?? ''), null, { timeout: 60_000 });
    await page.waitForTimeout(1500);
    await shot('02-progress');
    expect(await progress.getByRole('progressbar').count()).toBe(1);
    expect(await progress.textContent()).toMatch(/Verifying pairs/);

    const result = page.getByTestId('learn-result');
    await page.waitForFunction(
      () => document.querySelector('[data-testid=learn-result]') !== null || document.querySelector('[data-testid=learn-error]') !== null,
      null,
      { timeout: 420_000, polling: 1000 },
    );
    const error = await page.getByTestId('learn-error').textContent().catch(() => null);
    expect(error, `learning failed:\n${session.library.output().slice(-3000)}`).toBeNull();
    await result.waitFor();
    const rows = result.locator('tbody tr');
    expect(await rows.count()).toBe(3);
    for (const key of ['current', 'pca', 'learned']) expect(await result.locator(`tr[data-key=${key}] td.num`).first().textContent()).toMatch(/\d+\.\d %/);
    const decision = (await page.getByTestId('learn-decision').textContent()) ?? '';
    expect(decision).toMatch(/Switched to the learned whitening/);
    expect(await result.textContent()).toMatch(/verified places/);
    await result.scrollIntoViewIfNeeded();
    await shot('03-result');

    expect(await result.getAttribute('data-switched')).toBe('true');
    await page.getByTestId('learn-undo').waitFor();
    expect(await page.getByTestId('learn-current').textContent()).toMatch(/learned with the triplet loss/);
    await page.getByTestId('learn-view').evaluate((el) => el.scrollTo({ top: 0 }));
    await shot('04-switched');
  }, 600_000);

  it('goes back to the previous whitening with the keyboard', async () => {
    await page.locator('body').click({ position: { x: 5, y: 880 } });
    await page.keyboard.press('u');
    await page.getByTestId('learn-notice').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('learn-current').textContent()).toContain('no whitening');
    expect(await page.getByTestId('learn-undo').count()).toBe(0);
    await shot('05-reverted');
    expect(session.problems).toEqual([]);
  }, 600_000);
});
