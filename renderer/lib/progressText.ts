// How long-running work reads in the UI, indexing and learning alike: durations, rates, and the
// row of figures (count, share done, rate, time left) under a progress bar.

/** One tile of a row of figures: a value over what it counts. */
export interface Figure {
  value: string;
  caption: string;
  /** Shown in the danger colour (something went wrong, e.g. files that could not be read). */
  bad?: boolean;
  testId?: string;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return 'under a second';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Items per second: "12 photos/s" with a unit, "12/s" without; a dash for none yet. */
export function formatRate(perSecond: number, unit?: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '—';
  const per = unit ? ` ${unit}/s` : '/s';
  return perSecond >= 10 ? `${Math.round(perSecond)}${per}` : `${perSecond.toFixed(1)}${per}`;
}

export interface ProgressFigureOptions {
  /** The first figure, how far it is, e.g. "120 / 400". */
  count: string;
  /** What the count counts. */
  unit: string;
  /** The share of this stretch done, or null while its size is not known. */
  fraction: number | null;
  /** What the rate counts ("photos" reads "12 photos/s"); none reads "12/s". */
  rateUnit?: string;
  /** What one stretch of the work is called: "of this phase", "left in this step". */
  stretch: 'phase' | 'step';
  etaTestId?: string;
}

/** The four figures under a progress bar: count, share done, rate and time left. */
export function progressFigures(progress: { rate: number; eta: number | null } | null, options: ProgressFigureOptions): Figure[] {
  const { count, unit, fraction, rateUnit, stretch, etaTestId } = options;
  return [
    { value: count, caption: unit },
    { value: fraction === null ? '—' : `${Math.floor(fraction * 100)} %`, caption: `of this ${stretch}` },
    { value: progress ? formatRate(progress.rate, rateUnit) : '—', caption: 'rate' },
    { value: progress?.eta == null ? '—' : formatDuration(progress.eta), caption: `left in this ${stretch}`, testId: etaTestId },
  ];
}
