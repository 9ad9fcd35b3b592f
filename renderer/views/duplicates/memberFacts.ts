// How a duplicate group's members are described to the user: the facts the keeper rule weighs,
// formatted, and which member is best at each, so the eye finds why the keeper was chosen.
import type { DuplicateGroup, DuplicateMember } from '../../../app/api/contract.js';

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} B`;
}

export function formatResolution(width: number | null, height: number | null): string {
  if (!width || !height) return 'Unknown size';
  const megapixels = (width * height) / 1e6;
  const mp = megapixels >= 10 ? megapixels.toFixed(0) : megapixels >= 0.1 ? megapixels.toFixed(1) : megapixels.toFixed(2);
  return `${width} × ${height} · ${mp} MP`;
}

export function formatFormat(format: string | null): string {
  if (!format) return 'Unknown format';
  return format === 'jpg' ? 'JPEG' : format.toUpperCase();
}

export function formatSharpness(sharpness: number | null): string {
  if (sharpness === null) return 'Not measured';
  return sharpness >= 100 ? Math.round(sharpness).toLocaleString('en-US') : sharpness.toPrecision(3);
}

export function formatTakenAt(takenAt: string | null): string {
  if (!takenAt) return 'No capture date';
  const date = new Date(takenAt);
  if (Number.isNaN(date.getTime())) return takenAt;
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatSimilarity(score: number): string {
  return `${(Math.min(1, Math.max(0, score)) * 100).toFixed(1)} %`;
}

/** The folder part of a path, for a compact second line under the file name. */
export function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut > 0 ? path.slice(0, cut) : '';
}

/** A path short enough to name a copy: its folder's name and the file name (base_images/x.jpg). */
export function shortPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (cut <= 0) return path;
  const before = Math.max(path.lastIndexOf('/', cut - 1), path.lastIndexOf('\\', cut - 1));
  return path.slice(before + 1);
}

export interface MemberHighlights {
  /** Largest pixel count in the group (and not shared by every member). */
  resolution: boolean;
  sharpness: boolean;
  size: boolean;
}

/** Per member, which of its facts is the group's best; a fact every member shares marks no one. */
export function memberHighlights(group: Pick<DuplicateGroup, 'members'>): MemberHighlights[] {
  const best = (value: (m: DuplicateMember) => number | null) => {
    const values = group.members.map(value);
    const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
    if (known.length < 2) return values.map(() => false);
    const top = Math.max(...known);
    if (known.every((v) => v === top)) return values.map(() => false);
    return values.map((v) => v === top);
  };
  const resolution = best((m) => (m.width && m.height ? m.width * m.height : null));
  const sharpness = best((m) => m.sharpness);
  const size = best((m) => m.size);
  return group.members.map((_, i) => ({ resolution: resolution[i], sharpness: sharpness[i], size: size[i] }));
}
