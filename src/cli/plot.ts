/**
 * SVG charts a person can open: loss curves for `train --plot`, and the line and bar
 * charts of the benchmarks (with log scales where values span orders of magnitude).
 */

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** About `count` round tick values covering [low, high]. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Powers of ten (and 2×, 5× when the range is short) covering [low, high], for log axes. */
function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  const multiples = Math.log10(high / low) < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e++) {
    for (const m of multiples) {
      const v = m * 10 ** e;
      if (v >= low * 0.999 && v <= high * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const label = (v: number) => {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (Math.abs(v) < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
};

interface Axis {
  low: number;
  high: number;
  log: boolean;
  ticks: number[];
}

function axis(values: number[], log: boolean, fromZero: boolean): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let low = finite.length ? Math.min(...finite) : 0;
  let high = finite.length ? Math.max(...finite) : 1;
  if (log) {
    low = 10 ** Math.floor(Math.log10(low || 1));
    high = 10 ** Math.ceil(Math.log10(high || 1));
    if (high === low) high = low * 10;
    return { low, high, log, ticks: logTicks(low, high) };
  }
  if (fromZero && low > 0) low = 0;
  if (high === low) [low, high] = [low - 0.5, high + 0.5];
  const ticks = niceTicks(low, high + (high - low) * 0.05);
  return { low: Math.min(low, ticks[0]!), high: Math.max(high, ticks[ticks.length - 1]!), log, ticks };
}

function position(a: Axis, v: number, from: number, length: number): number {
  const t = a.log ? (Math.log10(v) - Math.log10(a.low)) / (Math.log10(a.high) - Math.log10(a.low)) : (v - a.low) / (a.high - a.low);
  return from + t * length;
}

export interface XYSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

function frame(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...(title ? [`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`] : []),
  ];
}

/** Lines through (x, y) points, one per series, with axes, ticks and a legend. */
export function xyChart(series: readonly XYSeries[], options: ChartOptions = {}): string {
  const { title = '', xLabel = '', yLabel = '', logX = false, logY = false, width = 720, height = 420 } = options;
  const m = { left: 70, right: 20, top: title ? 40 : 20, bottom: 50 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xs = axis(
    series.flatMap((s) => s.points.map((p) => p[0])),
    logX,
    false,
  );
  const ys = axis(
    series.flatMap((s) => s.points.map((p) => p[1])),
    logY,
    !logY,
  );
  const px = (v: number) => position(xs, v, m.left, plotW);
  const py = (v: number) => position(ys, v, m.top + plotH, -plotH);
  const parts = frame(width, height, title);
  for (const t of ys.ticks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xs.ticks) parts.push(`<text x="${px(t).toFixed(1)}" y="${m.top + plotH + 18}" text-anchor="middle">${label(t)}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0));
    if (points.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      );
    if (points.length <= 40)
      for (const [x, y] of points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = m.top + 14 + 18 * k;
    parts.push(
      `<line x1="${m.left + plotW - 170}" x2="${m.left + plotW - 146}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${m.left + plotW - 140}" y="${ly}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export interface Series {
  name: string;
  values: readonly number[];
}

/** Curves over epochs (1, 2, …), as `train --plot` draws the training and validation loss. */
export function lineChart(
  series: readonly Series[],
  { title = '', xLabel = 'epoch', yLabel = 'loss', width = 720, height = 420 } = {},
): string {
  return xyChart(
    series.map((s) => ({ name: s.name, points: s.values.map((v, i) => [i + 1, v] as const) })),
    { title, xLabel, yLabel, width, height },
  );
}

export interface BarGroup {
  /** The group's label (a workload). */
  name: string;
  bars: readonly { name: string; value: number }[];
}

/**
 * Horizontal bars, grouped, on a log-scale value axis: for throughputs that differ by
 * orders of magnitude between contenders.
 */
export function barChart(groups: readonly BarGroup[], { title = '', valueLabel = '', width = 860 } = {}): string {
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const barH = 14;
  const groupGap = 22;
  const m = { left: 230, right: 90, top: title ? 44 : 20, bottom: 44 };
  const rows = groups.reduce((n, g) => n + g.bars.length, 0);
  const height = m.top + m.bottom + rows * barH + groups.length * groupGap + 18 * Math.ceil(names.length / 4);
  const plotW = width - m.left - m.right;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0);
  const scale = axis(values, true, false);
  const px = (v: number) => position(scale, Math.max(v, scale.low), m.left, plotW);
  const parts = frame(width, height, title);
  const bottom = height - m.bottom - 18 * Math.ceil(names.length / 4);
  for (const t of scale.ticks) {
    parts.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${m.top}" y2="${bottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${px(t).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(`<text x="${m.left + plotW / 2}" y="${bottom + 34}" text-anchor="middle">${escape(valueLabel)} (log scale)</text>`);
  let y = m.top;
  for (const g of groups) {
    parts.push(`<text x="8" y="${y + 12}" font-weight="bold">${escape(g.name)}</text>`);
    y += 16;
    for (const b of g.bars) {
      const color = COLORS[names.indexOf(b.name) % COLORS.length]!;
      const w = Math.max(1, px(b.value) - m.left);
      parts.push(`<text x="${m.left - 6}" y="${y + barH - 3}" text-anchor="end">${escape(b.name)}</text>`);
      parts.push(`<rect x="${m.left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${color}"/>`);
      parts.push(`<text x="${(m.left + w + 4).toFixed(1)}" y="${y + barH - 3}">${label(b.value)}</text>`);
      y += barH;
    }
    y += groupGap - 16;
  }
  names.forEach((name, k) => {
    const x = 10 + (k % 4) * ((width - 20) / 4);
    const ly = height - 14 - 18 * (Math.ceil(names.length / 4) - 1 - Math.floor(k / 4));
    parts.push(`<rect x="${x}" y="${ly - 10}" width="12" height="12" fill="${COLORS[k % COLORS.length]}"/>`);
    parts.push(`<text x="${x + 18}" y="${ly}">${escape(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
