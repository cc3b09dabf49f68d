/** SVG charts a person can open: loss curves for `train --plot`, bar charts for benchmarks. */

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

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

const label = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

export interface Series {
  name: string;
  values: readonly number[];
}

/**
 * A line chart of one or more series over their index (epochs from 1), with axes, ticks
 * and a legend.
 */
export function lineChart(series: readonly Series[], { title = '', xLabel = 'epoch', yLabel = 'loss', width = 720, height = 420 } = {}): string {
  const m = { left: 70, right: 20, top: title ? 40 : 20, bottom: 50 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let low = Math.min(...all, Infinity);
  let high = Math.max(...all, -Infinity);
  if (!Number.isFinite(low)) [low, high] = [0, 1];
  if (high === low) [low, high] = [low - 0.5, high + 0.5];
  const pad = (high - low) * 0.05;
  const yTicks = niceTicks(Math.max(0, low - pad) === 0 && low >= 0 ? 0 : low - pad, high + pad);
  const y0 = yTicks[0]!;
  const y1 = Math.max(yTicks[yTicks.length - 1]!, high);
  const xTicks = niceTicks(1, n, Math.min(8, n)).filter((t) => Number.isInteger(t));
  const px = (i: number) => m.left + (n === 1 ? plotW / 2 : ((i - 1) / (n - 1)) * plotW);
  const py = (v: number) => m.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${px(t)}" y="${m.top + plotH + 18}" text-anchor="middle">${t}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const points = s.values.map((v, i) => (Number.isFinite(v) ? `${px(i + 1).toFixed(1)},${py(v).toFixed(1)}` : null)).filter(Boolean);
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    else if (points.length === 1) parts.push(`<circle cx="${points[0]!.split(',')[0]}" cy="${points[0]!.split(',')[1]}" r="3" fill="${color}"/>`);
    const ly = m.top + 14 + 18 * k;
    parts.push(`<line x1="${m.left + plotW - 150}" x2="${m.left + plotW - 126}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${m.left + plotW - 120}" y="${ly}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
