// The one module that imports uPlot (about 20 KB gzip with its CSS). It is
// loaded with a dynamic import() (loadChart below is the only way in), so
// the first load of the console does not carry it: only a page with a
// chart asks for this chunk. uPlot draws on a canvas and sets sizes
// through element.style (CSSOM), which the console's CSP allows; it adds
// no inline style attribute or script.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatTick, type Chart } from '../usage';

export interface ChartHandle {
  /** New values for the same series (same keys, same order). */
  setData(c: Chart): void;
  destroy(): void;
}

const axisColor = '#5b6270';
const gridColor = '#eef0f3';

/** Ticks for counts: whole numbers only. */
const countIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Time ticks in UTC, 24-hour: "14:30", with the date under the first tick of each day ("Dec 5"); dates alone for whole-day ticks. */
export function timeTicks(splits: number[], incr: number): string[] {
  let prevDay = '';
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    const day = `${months[d.getUTCMonth()]} ${d.getUTCDate()}`;
    if (incr >= 86400) return day;
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    const label = day === prevDay ? hm : `${hm}\n${day}`;
    prevDay = day;
    return label;
  });
}

function data(c: Chart): uPlot.AlignedData {
  return [c.times, ...c.series.map((s) => s.values)];
}

/**
 * Draws c into el, as wide as el and height px tall, following el's width
 * as it changes. onHover gets the index of the bucket under the pointer,
 * or null when the pointer leaves.
 */
export function mountChart(el: HTMLElement, c: Chart, height: number, onHover: (idx: number | null) => void): ChartHandle {
  const single = c.series.length === 1;
  const opts: uPlot.Options = {
    width: Math.max(el.clientWidth, 100),
    height,
    legend: { show: false },
    // Bucket times are UTC, like every time the console shows.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: {
      drag: { x: false, y: false, setScale: false },
      points: { size: 7 },
    },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { show: false },
        space: 70,
        values: (_u, splits, _axis, _space, incr) => timeTicks(splits, incr),
      },
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { show: false },
        incrs: c.unit === 'count' ? countIncrs : undefined,
        values: (_u, splits) => splits.map((v) => formatTick(c.unit, v)),
        size: c.unit === 'count' ? 44 : 64,
        space: 36,
      },
    ],
    series: [
      {},
      ...c.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.75,
        fill: single ? s.color + '1f' : undefined,
        points: { show: false },
      })),
    ],
    hooks: {
      setCursor: [(u) => onHover(u.cursor.idx ?? null)],
    },
  };
  const plot = new uPlot(opts, data(c), el);
  const resize = new ResizeObserver(() => {
    const width = Math.max(el.clientWidth, 100);
    if (width !== plot.width) plot.setSize({ width, height });
  });
  resize.observe(el);
  return {
    setData: (next) => plot.setData(data(next)),
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}
