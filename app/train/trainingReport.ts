// The learning curve as one self-contained HTML page (inline SVG, no scripts, no network), so a
// user can open it from the output folder in any browser: the loss per step with its running
// mean, and the mAP measured at every mining point.
import type { TrainingHistory } from './tripletTrainer.js';

export interface TrainingReportInfo {
  title: string;
  /** Label → value rows shown above the curves (model, data, backend, times…). */
  facts: Array<[string, string]>;
}

const WIDTH = 720;
const HEIGHT = 260;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

interface Series {
  label: string;
  colour: string;
  points: Array<[number, number]>;
  /** Draw markers at the points, not just a line. */
  markers?: boolean;
  thin?: boolean;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function chart(title: string, series: Series[], yLabel: string, yRange?: [number, number]): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<p>${escapeHtml(title)}: no data yet.</p>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  let [y0, y1] = yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const px = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
  const py = (y: number) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
  const parts: string[] = [];
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(x0, x1, 8)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${HEIGHT - PAD.bottom}" y2="${HEIGHT - PAD.bottom}" stroke="#888"/>`);
  parts.push(`<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="#888"/>`);
  parts.push(`<text x="${(WIDTH + PAD.left) / 2}" y="${HEIGHT - 4}" text-anchor="middle">step</text>`);
  parts.push(`<text x="14" y="${(HEIGHT - PAD.bottom + PAD.top) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(HEIGHT - PAD.bottom + PAD.top) / 2})">${escapeHtml(yLabel)}</text>`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="${s.thin ? 1 : 2}" opacity="${s.thin ? 0.45 : 1}"/>`);
    if (s.markers) for (const p of s.points) parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${s.colour}"/>`);
  }
  const legend = series.filter((s) => s.points.length).map((s) => `<span><i style="background:${s.colour}"></i>${escapeHtml(s.label)}</span>`).join(' ');
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}

function runningMean(points: Array<[number, number]>, window: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i][1];
    if (i >= window) sum -= points[i - window][1];
    out.push([points[i][0], sum / Math.min(i + 1, window)]);
  }
  return out;
}

export function renderTrainingReport(history: TrainingHistory, info: TrainingReportInfo): string {
  const loss: Array<[number, number]> = history.losses.map((l) => [l.step, l.loss]);
  const window = Math.max(1, Math.round(history.stepsPerEpoch));
  const lossChart = chart('Triplet loss per step', [
    { label: 'batch loss', colour: '#8aa6d6', points: loss, thin: true },
    { label: `running mean over ${window} steps (one epoch)`, colour: '#1f4e9c', points: runningMean(loss, window) },
    { label: 'mean loss of freshly mined triplets', colour: '#c0392b', points: history.mining.map((m) => [m.step, m.minedLoss]), markers: true },
  ], 'loss', [0, Math.max(1e-3, ...loss.map((p) => p[1]), ...history.mining.map((m) => m.minedLoss))]);
  const mapChart = chart('mAP at each mining point', [
    { label: 'training images ranking each other', colour: '#27ae60', points: history.mining.map((m) => [m.step, 100 * m.trainingMAP]), markers: true },
    { label: 'validation (held-out classes)', colour: '#8e44ad', points: history.mining.filter((m) => m.validationMAP !== undefined).map((m) => [m.step, 100 * m.validationMAP!]), markers: true },
  ], 'mAP %');
  const rows = info.facts.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const first = history.mining[0];
  const last = history.mining[history.mining.length - 1];
  const summary = first && last
    ? `<p>Training mAP ${(100 * first.trainingMAP).toFixed(1)} → ${(100 * last.trainingMAP).toFixed(1)}; margin-violating triplets ${(100 * first.activeShare).toFixed(0)} % → ${(100 * last.activeShare).toFixed(0)} %; ${history.losses.length} steps of ${history.totalSteps} in ${history.seconds.toFixed(1)} s.</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:780px}
table{border-collapse:collapse;margin-bottom:16px}th,td{text-align:left;padding:2px 12px 2px 0;vertical-align:top}th{color:#555;font-weight:600}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}svg text{font-size:11px;fill:#555}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>${escapeHtml(info.title)}</h1>
<table>${rows}</table>
${summary}
${lossChart}
${mapChart}
</body></html>
`;
}
