/**
 * A horizontal bar chart of one question's counts, in plain SVG built with DOM calls (no
 * charting library, no markup parsing). Each option has its name on one line, with the full
 * width for long names on a phone, and below it its bar and its count; bar widths are
 * percentages of the chart's width, so it scales with the page. The chart is hidden from
 * assistive technologies: the table beside it (visually hidden) has the same numbers.
 */
const SVG = 'http://www.w3.org/2000/svg';

/** One option's bar. */
export interface Bar {
  readonly label: string;
  readonly count: number;
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A share, as shown: one decimal under 10 %, none above. */
export function percent(count: number, total: number): string {
  if (total === 0) return '0 %';
  const p = (100 * count) / total;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)} %`;
}

/**
 * Build the chart.
 * @param bars - options in order, counts ≥ 0
 * @param ballots - ballots counted, the base of the shares (≥ 0)
 */
export function barChart(bars: readonly Bar[], ballots: number): SVGSVGElement {
  const ROW = 50;
  /** The bars use this share of the width; the count is written in the rest. */
  const TRACK = 74;
  const max = Math.max(1, ...bars.map((b) => b.count));
  const svg = el('svg', { class: 'chart', width: '100%', height: String(bars.length * ROW), 'aria-hidden': 'true', focusable: 'false' });
  const winner = Math.max(...bars.map((b) => b.count));
  bars.forEach((b, i) => {
    const y = i * ROW;
    const label = b.label.length > 60 ? `${b.label.slice(0, 59)}…` : b.label;
    svg.appendChild(el('text', { x: '0', y: String(y + 16), class: 'chart-label' }, label));
    svg.appendChild(el('rect', { x: '0', y: String(y + 24), width: `${TRACK}%`, height: '16', rx: '3', class: 'chart-track' }));
    const w = (TRACK * b.count) / max;
    svg.appendChild(el('rect', { x: '0', y: String(y + 24), width: `${w.toFixed(2)}%`, height: '16', rx: '3', class: b.count === winner && b.count > 0 ? 'chart-bar top' : 'chart-bar' }));
    svg.appendChild(el('text', { x: '100%', y: String(y + 37), class: 'chart-count', 'text-anchor': 'end' }, `${b.count} · ${percent(b.count, ballots)}`));
  });
  return svg;
}
