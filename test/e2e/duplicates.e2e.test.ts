// Duplicates and Places as a user meets them, in Chromium against `sightline serve`: index a copy of
// the UKBench near-duplicate folder through the Library view, check that each original's variants
// (flipped, rotated, resized, grey, re-encoded) form one group with the original as the suggested
// keeper, compare two of them, decide ("Not duplicates", "move others to trash"), reload the page
// to see that decisions stick, and undo them, files included. In the exact tier (one photo in
// several byte-identical files), pick the copy to keep, move the other copies to the trash and
// undo. Screenshots go to test-output/screenshots/duplicates-*.png and places-*.png for a person
// to look at.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ApiMethod } from '../../app/api/contract.js';
import { addFolderInUi, e2eRequirements, openBrowserLibrary, projectRoot, screenshotDir, type BrowserLibrary } from './browserHarness.js';

const NEAR_DUP = path.resolve(projectRoot, '../shared/data/near-dup');

/** UKBench originals and the variants made from them (near-dup/'s naming: <original>_<variant>.jpg). */
const FAMILIES = {
  ukbench00120: {
    originals: ['ukbench00120.jpg', 'alpha_channel_image.png'],
    variants: ['ukbench00120_hflip.jpg', 'ukbench00120_rotation.jpg', 'ukbench00120_resize.jpg', 'ukbench00120_gray.jpg'],
  },
  ukbench09380: { originals: ['ukbench09380.jpg'], variants: ['ukbench09380.webp'] },
} as const;

/** Which UKBench object a file shows: alpha_channel_image.png is ukbench00120 with an alpha channel. */
function objectOf(fileName: string): string {
  return fileName === 'alpha_channel_image.png' ? 'ukbench00120' : /^(ukbench\d+)/.exec(fileName)?.[1] ?? fileName;
}

interface ShownMember {
  photoId: number;
  name: string;
  path: string;
  keeper: boolean;
}
interface ShownGroup {
  key: string;
  tier: string;
  members: ShownMember[];
}

const { chromiumPath, why } = e2eRequirements('duplicates.e2e', NEAR_DUP);

describe.skipIf(why !== null)('duplicates and places in the browser', () => {
  let session: BrowserLibrary;
  let page: Page;
  let photoDir: string;

  const shot = (name: string) => page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });

  /** A call to the core with the page's token: only to wait for indexing, never to act for the user. */
  const api = (method: ApiMethod, input: unknown = {}) =>
    page.evaluate(
      async ({ method, input }) => {
        const token = document.querySelector('meta[name="sightline-token"]')?.getAttribute('content') ?? '';
        const response = await fetch(`/api/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sightline-token': token }, body: JSON.stringify(input) });
        return (await response.json()) as { ok: boolean; value?: unknown; error?: { message: string } };
      },
      { method, input },
    );

  async function waitForIdleLibrary(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = (await api('getStatus')).value as { indexing: { state: string; lastSummary: unknown }; photos: { pending: number } };
      if (status.indexing.state === 'idle' && status.indexing.lastSummary !== null && status.photos.pending === 0) return;
      if (Date.now() > deadline) throw new Error(`indexing did not finish: ${JSON.stringify(status.indexing)}\n${session.library.output()}`);
      await page.waitForTimeout(500);
    }
  }

  async function shownGroups(): Promise<ShownGroup[]> {
    return page.locator('[data-testid=duplicate-group]').evaluateAll((groups) =>
      groups.map((g) => ({
        key: g.getAttribute('data-group-key') ?? '',
        tier: g.getAttribute('data-tier') ?? '',
        members: Array.from(g.querySelectorAll('[data-testid=duplicate-member]')).map((m) => {
          const memberPath = m.getAttribute('data-path') ?? '';
          return { photoId: Number(m.getAttribute('data-photo-id')), path: memberPath, name: memberPath.split(/[\\/]/).pop() ?? '', keeper: m.getAttribute('data-keeper') === 'true' };
        }),
      })),
    );
  }

  async function openDuplicates(tier: 'exact' | 'near' | 'similar'): Promise<void> {
    await page.getByTestId('nav-duplicates').click();
    await page.getByTestId('duplicates-view').waitFor();
    await page.getByTestId('duplicates-loading').waitFor({ state: 'detached', timeout: 120_000 });
    await page.getByTestId(`tier-tab-${tier}`).click();
    await expect(page.getByTestId(`tier-tab-${tier}`).getAttribute('aria-selected')).resolves.toBe('true');
  }

  /** Selects the group with this photo by clicking its card's header, so that the keeper stays as it is. */
  async function selectGroupWith(fileName: string): Promise<ShownGroup> {
    const group = (await shownGroups()).find((g) => g.members.some((m) => m.name === fileName));
    if (!group) throw new Error(`no group shows ${fileName}`);
    await page.locator(`[data-testid=duplicate-group][data-group-key="${group.key}"] header`).click();
    await expect(page.locator(`[data-testid=duplicate-group][data-group-key="${group.key}"]`).getAttribute('aria-current')).resolves.toBe('true');
    return group;
  }

  beforeAll(async () => {
    session = await openBrowserLibrary(chromiumPath!, {
      // "Move to trash" moves files: work on a copy, never on shared data.
      photos: () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-near-dup-'));
        fs.cpSync(NEAR_DUP, dir, { recursive: true });
        return dir;
      },
    });
    ({ page, photoDir } = session);
  }, 300_000);

  afterAll(() => session?.close());

  it('indexes the near-duplicate folder added in the Library view', async () => {
    await addFolderInUi(page, photoDir);
    await waitForIdleLibrary(300_000);
  }, 320_000);

  it("groups each original's variants in the near-identical tier, the original suggested as keeper", async () => {
    await openDuplicates('near');
    await page.locator('[data-testid=duplicate-group]').first().waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=duplicate-member] img')).every((i) => (i as HTMLImageElement).complete));
    await shot('duplicates-01-near');

    const groups = await shownGroups();
    for (const group of groups) {
      expect(group.tier).toBe('near');
      // One object per group: a variant never lands with another UKBench object.
      expect(new Set(group.members.map((m) => objectOf(m.name))).size, group.members.map((m) => m.name).join(', ')).toBe(1);
      expect(group.members.filter((m) => m.keeper)).toHaveLength(1);
    }
    for (const [object, family] of Object.entries(FAMILIES)) {
      const group = groups.find((g) => objectOf(g.members[0].name) === object);
      expect(group, `no near-identical group for ${object}`).toBeDefined();
      const names = group!.members.map((m) => m.name).sort();
      expect(names).toEqual([...family.originals, ...family.variants].sort());
      // The keeper rule puts resolution first, then sharpness, then format: an original wins.
      const keeper = group!.members.find((m) => m.keeper)!;
      expect(family.originals as readonly string[], `keeper of ${object}: ${keeper.name}`).toContain(keeper.name);
      expect(group!.members[0].keeper).toBe(true);
    }

    // The reason and the rule are on screen.
    expect(await page.getByTestId('keeper-reason').first().textContent()).toMatch(/resolution|sharp|format/i);
    expect(await page.getByTestId('keeper-rule').textContent()).toMatch(/largest resolution/);
  }, 180_000);

  /** The exact-tier card of the photo with this file, and its copies as the card lists them. */
  async function copiesCard(fileSuffix: string) {
    const card = page.locator('[data-testid=duplicate-group][data-tier=exact]', { has: page.locator(`[data-testid=copy-file][data-path$="${fileSuffix}"]`) });
    await card.waitFor();
    const files = await card.getByTestId('copy-file').evaluateAll((rows) =>
      rows.map((r) => ({ path: r.getAttribute('data-path') ?? '', keep: r.getAttribute('data-keep') === 'true', suggested: r.getAttribute('data-suggested') === 'true' })),
    );
    return { card, files };
  }

  it('lists byte-identical copies in the exact tier, the suggested one to keep first', async () => {
    await page.getByTestId('tier-tab-exact').click();
    await page.locator('[data-testid=duplicate-group][data-tier=exact]').first().waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=duplicate-member] img')).every((i) => (i as HTMLImageElement).complete));
    const { card, files } = await copiesCard('base_images/ukbench00120.jpg');
    const copies = ['base_images/ukbench00120.jpg', 'mixed_images/ukbench00120.jpg', 'mixed_nested_images/lvl1/ukbench00120.jpg'];
    expect(files.map((f) => path.relative(photoDir, f.path).split(path.sep).join('/'))).toEqual(copies);
    // The shortest path is suggested and kept unless the user picks another; the reason says why.
    expect(files.map((f) => [f.keep, f.suggested])).toEqual([[true, true], [false, false], [false, false]]);
    expect(await card.getByTestId('keeper-reason').textContent()).toMatch(/3 byte-identical files: keep the one with the shortest path/);
    await card.locator('header').click();
    expect(await page.getByTestId('action-trash-others').textContent()).toContain('Keep this file, move the other 2 copies to trash');
    expect(await page.getByTestId('action-keep-all').textContent()).toContain('Keep all copies');
    expect(await page.getByTestId('action-not-duplicates').count()).toBe(0);
    await shot('duplicates-02-exact');
    await page.getByTestId('tier-tab-near').click();
  });

  it('compares two photos side by side and switches between them with the keyboard', async () => {
    const group = await selectGroupWith('ukbench00120_gray.jpg');
    await page.keyboard.press('Enter');
    const compare = page.getByTestId('compare-view');
    await compare.waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=compare-view] img')).every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
    const before = await compare.locator('img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')));
    expect(before[0]).toBe(group.members.find((m) => m.keeper)!.name);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const after = await compare.locator('img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')));
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=compare-view] img')).every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
    await page.waitForTimeout(300);
    await shot('duplicates-03-compare');
    await page.keyboard.press('Escape');
    await compare.waitFor({ state: 'detached' });
  });

  it('lets the user pick another keeper by clicking a photo', async () => {
    const group = await selectGroupWith('ukbench00120_hflip.jpg');
    const card = page.locator(`[data-testid=duplicate-group][data-group-key="${group.key}"]`);
    const hflip = card.locator('[data-testid=duplicate-member][data-path$="ukbench00120_hflip.jpg"]');
    await hflip.locator('button').first().click();
    await expect(hflip.getAttribute('data-keeper')).resolves.toBe('true');
    expect(await card.locator('[data-testid=duplicate-member][data-keeper=true]').count()).toBe(1);
    expect(await page.getByTestId('action-trash-others').textContent()).toContain('ukbench00120_hflip.jpg');
    await card.getByRole('button', { name: 'Use suggestion' }).click();
    await expect(card.locator('[data-testid=duplicate-member]').first().getAttribute('data-keeper')).resolves.toBe('true');
  });

  it('marks a group "Not duplicates", keeps it resolved across a reload, and undoes it', async () => {
    const group = await selectGroupWith('ukbench09380.webp');
    await page.getByTestId('action-not-duplicates').click();
    const card = page.locator(`[data-testid=duplicate-group][data-group-key="${group.key}"]`);
    await card.waitFor({ state: 'detached' });
    await page.getByTestId('undo-button').waitFor();
    expect(await page.getByTestId('decision-message').textContent()).toContain('not duplicates');
    await shot('duplicates-04-decided');

    await page.reload();
    await openDuplicates('near');
    await page.locator('[data-testid=duplicate-group]').first().waitFor();
    expect((await shownGroups()).map((g) => g.key)).not.toContain(group.key);
    expect(await page.getByTestId('tier-tab-near').textContent()).toContain('1');

    // Undo survives the reload of the window.
    await page.getByTestId('undo-button').click();
    await card.waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('decision-message').textContent()).toMatch(/^Undid/);
    await shot('duplicates-05-undone');

    await page.reload();
    await openDuplicates('near');
    await card.waitFor({ timeout: 120_000 });
  }, 300_000);

  it('shows places as cards, opens one and opens its photos in the viewer', async () => {
    await page.getByTestId('nav-places').click();
    await page.getByTestId('places-view').waitFor();
    await page.getByTestId('places-loading').waitFor({ state: 'detached', timeout: 120_000 });
    const cards = page.getByTestId('place-card');
    await cards.first().waitFor();
    const counts = await cards.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=place-card] img')).every((i) => (i as HTMLImageElement).complete));
    await shot('places-01-cards');

    await cards.first().click();
    const members = page.getByTestId('place-member');
    await members.first().waitFor();
    expect(await members.count()).toBe(counts[0]);
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=place-member] img')).every((i) => (i as HTMLImageElement).complete));
    await shot('places-02-open');

    await members.nth(1).click();
    await page.getByTestId('viewer-image').waitFor({ timeout: 60_000 });
    await page.keyboard.press('Escape');
    await page.getByTestId('viewer-image').waitFor({ state: 'detached' });
    await page.getByTestId('places-back').click();
    await cards.first().waitFor();
  }, 240_000);

  let trashedGroupKey = '';

  it('moves the other photos to a .sightline-trash folder after a confirmation, and Undo puts them back', async () => {
    await openDuplicates('near');
    await page.locator('[data-testid=duplicate-group]').first().waitFor();
    const group = await selectGroupWith('ukbench00120_gray.jpg');
    trashedGroupKey = group.key;
    const keeper = group.members.find((m) => m.keeper)!;
    const others = group.members.filter((m) => !m.keeper);
    await page.keyboard.press('t');
    const dialog = page.getByTestId('trash-confirm');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('.sightline-trash');
    await shot('duplicates-06-trash-confirm');
    await page.getByTestId('trash-confirm-button').click();
    await page.locator(`[data-testid=duplicate-group][data-group-key="${group.key}"]`).waitFor({ state: 'detached' });
    expect(await page.getByTestId('decision-message').textContent()).toContain('.sightline-trash');
    expect(fs.existsSync(keeper.path)).toBe(true);
    for (const other of others) expect(fs.existsSync(other.path), other.path).toBe(false);
    const trash = path.join(photoDir, '.sightline-trash');
    expect(fs.readdirSync(trash, { recursive: true }).map(String).some((f) => f.endsWith('ukbench00120_gray.jpg'))).toBe(true);
    await shot('duplicates-07-trashed');

    await page.keyboard.press('Control+z');
    await page.getByTestId('decision-message').getByText('put back').waitFor({ timeout: 60_000 });
    for (const other of others) expect(fs.existsSync(other.path), other.path).toBe(true);
    await shot('duplicates-08-restored');
  }, 180_000);

  // The photos put back are found unchanged by the reconciliation after Undo, so they are not
  // described again: the core must return them to the search matrix from the store.
  it('lists the restored group again once its files are back', async () => {
    await waitForIdleLibrary(120_000);
    await page.getByTestId('nav-places').click();
    await openDuplicates('near');
    // A fresh mount loads at once: ten seconds is plenty for the group to show if the core lists it.
    await page.locator(`[data-testid=duplicate-group][data-group-key="${trashedGroupKey}"]`).waitFor({ timeout: 10_000 });
  }, 120_000);

  it('keeps the picked copy in the exact tier, moves the other copies to .sightline-trash, and Undo puts them back', async () => {
    await openDuplicates('exact');
    const { card, files } = await copiesCard('base_images/ukbench00120.jpg');
    expect(files).toHaveLength(3);
    await card.locator('header').click();
    await expect(card.getAttribute('aria-current')).resolves.toBe('true');
    const keepAt = async () => (await card.getByTestId('copy-file').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-keep') === 'true'))).indexOf(true);

    // Pick with the keyboard (→ wraps), then with a click; "Use suggestion" goes back.
    await page.keyboard.press('ArrowRight');
    expect(await keepAt()).toBe(1);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await keepAt()).toBe(2);
    await card.getByRole('button', { name: 'Use suggestion' }).click();
    expect(await keepAt()).toBe(0);
    await card.getByTestId('copy-file').nth(1).click();
    expect(await keepAt()).toBe(1);
    expect(await card.textContent()).toContain('Your pick: mixed_images/ukbench00120.jpg');
    const kept = files[1].path;
    const others = [files[0].path, files[2].path];

    await page.getByTestId('action-trash-others').click();
    const dialog = page.getByTestId('trash-confirm');
    await dialog.waitFor();
    expect(await dialog.getAttribute('data-kind')).toBe('copies');
    expect(await dialog.locator('h2').textContent()).toBe('Move 2 copies of ukbench00120.jpg to the .sightline-trash folder?');
    expect(await dialog.getByTestId('trash-confirm-keep').textContent()).toContain(kept);
    expect(await dialog.getByTestId('trash-confirm-file').allTextContents()).toEqual(others);
    await shot('duplicates-09-exact-trash-confirm');
    await page.getByTestId('trash-confirm-button').click();
    await card.waitFor({ state: 'detached' });
    const message = await page.getByTestId('decision-message').textContent();
    expect(message).toBe('Kept mixed_images/ukbench00120.jpg, moved 2 copies to a .sightline-trash folder in its library folder.');

    // On disk: the kept copy stays, the others are in .sightline-trash, byte for byte.
    expect(fs.existsSync(kept)).toBe(true);
    for (const other of others) expect(fs.existsSync(other), other).toBe(false);
    const trash = path.join(photoDir, '.sightline-trash');
    const inTrash = fs
      .readdirSync(trash, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('ukbench00120.jpg'))
      .map((f) => path.join(trash, f));
    expect(inTrash).toHaveLength(2);
    for (const f of inTrash) expect(fs.readFileSync(f).equals(fs.readFileSync(kept))).toBe(true);
    await page.waitForTimeout(300);
    await shot('duplicates-10-exact-trashed');

    await page.getByTestId('undo-button').click();
    await page.getByTestId('decision-message').getByText('put back').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('decision-message').textContent()).toBe('Undid “Move other copies to trash” on the copies of ukbench00120.jpg. 2 files put back.');
    for (const other of others) expect(fs.existsSync(other), other).toBe(true);
    for (const f of inTrash) expect(fs.existsSync(f), f).toBe(false);
    await page.waitForTimeout(300);
    await shot('duplicates-11-exact-restored');

    // Once the core's reconciliation has found the files again, the copies are listed again, selected.
    await waitForIdleLibrary(120_000);
    await card.waitFor({ timeout: 60_000 });
    await expect(card.getAttribute('aria-current')).resolves.toBe('true');
  }, 240_000);

  it('ran without page errors or CSP violations', () => {
    expect(session.problems).toEqual([]);
  });
});
