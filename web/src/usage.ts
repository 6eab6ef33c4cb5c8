// Usage series (GET …/usage) turned into what the analytics charts draw:
// the ranges the console offers and the step each reads, the buckets of
// a window with gaps filled, one chart's series and totals, and the
// units its numbers are shown in. Pure functions: no DOM, no uPlot.
import type { UsageCounters } from './api';
import { bytes, count } from './format';

/** A usage answer of either endpoint (`site` or `tenant` names whose it is). */
export interface UsageSeries {
  site?: string;
  tenant?: string;
  from: string;
  to: string;
  step: string;
  points: (UsageCounters & { time: string })[];
  totals: UsageCounters;
}

export type RangeId = '1h' | '24h' | '7d';

export interface Range {
  id: RangeId;
  /** The segmented control's label. */
  label: string;
  /** "last 24 hours", for captions and empty states. */
  words: string;
  /** The window's length in ms. */
  span: number;
  /** The API's step, and its length in ms and in words. */
  step: string;
  stepMs: number;
  stepWords: string;
  /**
   * Hourly steps read the hourly roll-ups, which the store refreshes every
   * 5 minutes for the current and the previous hour: the last tailHours
   * are read again from the minute rows (freshTail) so the newest
   * requests show at once.
   */
  tailHours?: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * The ranges the console offers. 1 h and 24 h read the minute rows (fresh
 * within one flush, ~10 s): 60 and 288 buckets. 7 d reads the hourly
 * roll-ups (168 buckets; a minute step over 7 days would scan 60 times
 * the rows for each answer) and its last 2 hours from the minute rows.
 */
export const ranges: readonly Range[] = [
  { id: '1h', label: '1 hour', words: 'last hour', span: HOUR, step: '1m', stepMs: MIN, stepWords: 'per minute' },
  { id: '24h', label: '24 hours', words: 'last 24 hours', span: 24 * HOUR, step: '5m', stepMs: 5 * MIN, stepWords: 'per 5 minutes' },
  { id: '7d', label: '7 days', words: 'last 7 days', span: 7 * 24 * HOUR, step: '1h', stepMs: HOUR, stepWords: 'per hour', tailHours: 2 },
];

export function rangeById(id: string | null | undefined): Range | undefined {
  return ranges.find((r) => r.id === id);
}

/**
 * The query for range at now: to is the end of the bucket now is in (so
 * the bucket in progress is the last one), from is range.span before it;
 * both on step boundaries (UTC), so every bucket is whole and the API's
 * own alignment of from changes nothing.
 */
export function usageWindow(range: Range, now: number): { from: string; to: string; step: string } {
  const to = Math.floor(now / range.stepMs) * range.stepMs + range.stepMs;
  return { from: new Date(to - range.span).toISOString().replace('.000Z', 'Z'), to: new Date(to).toISOString().replace('.000Z', 'Z'), step: range.step };
}

/** The query for the fresh tail of a window w of range (see Range.tailHours): its last hours by half hours, from the minute rows. */
export function tailWindow(range: Range, w: { to: string }): { from: string; to: string; step: string } | undefined {
  if (!range.tailHours) return undefined;
  const to = Date.parse(w.to);
  return { from: new Date(to - range.tailHours * HOUR).toISOString().replace('.000Z', 'Z'), to: w.to, step: '30m' };
}

/**
 * The series with its points from tail.from on replaced by tail's (read
 * from the minute rows, which the roll-ups lag behind). tail's points may
 * be finer than the series' step: buckets() adds each to the bucket it
 * falls in, and totals what it drew.
 */
export function withTail(series: UsageSeries, tail: UsageSeries): UsageSeries {
  const start = Date.parse(tail.from);
  if (Number.isNaN(start)) return series;
  return { ...series, points: [...series.points.filter((p) => Date.parse(p.time) < start), ...tail.points] };
}

/** A step as the API writes it ("1m", "5m", "1h", "1d") in ms; undefined when it is not one. */
export function stepMs(step: string): number | undefined {
  const m = /^(\d+)([mhd])$/.exec(step);
  if (!m || Number(m[1]) <= 0) return undefined;
  return Number(m[1]) * { m: MIN, h: HOUR, d: 24 * HOUR }[m[2] as 'm' | 'h' | 'd'];
}

export const zeroCounters = (): UsageCounters => ({ requests: {}, bytes_out: 0, invocations: {}, violations: {}, cpu_ms: 0, subrequests: 0 });

/** Every bucket of the answer's window, from `from` to `to` by `step`: a missing point is zeros, a point off the grid is added to the bucket it falls in. */
export interface Buckets {
  /** Bucket starts, unix seconds (uPlot's x values). */
  times: number[];
  /** Bucket length in ms. */
  stepMs: number;
  points: UsageCounters[];
  totals: UsageCounters;
}

export function buckets(u: UsageSeries): Buckets {
  const from = Date.parse(u.from);
  const to = Date.parse(u.to);
  const step = stepMs(u.step);
  if (!step || Number.isNaN(from) || Number.isNaN(to) || to <= from) {
    return { times: [], stepMs: step ?? MIN, points: [], totals: u.totals ?? zeroCounters() };
  }
  const n = Math.ceil((to - from) / step);
  const times: number[] = [];
  const points: UsageCounters[] = [];
  for (let i = 0; i < n; i++) {
    times.push((from + i * step) / 1000);
    points.push(zeroCounters());
  }
  for (const p of u.points ?? []) {
    const t = Date.parse(p.time);
    if (Number.isNaN(t) || t < from || t >= to) continue;
    addTo(points[Math.floor((t - from) / step)], p);
  }
  const totals = zeroCounters();
  for (const p of points) addTo(totals, p);
  return { times, stepMs: step, points, totals };
}

function addMap(into: Record<string, number>, from: Record<string, number> | undefined) {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + (Number.isFinite(v) ? v : 0);
}

function addTo(into: UsageCounters, c: UsageCounters) {
  addMap(into.requests, c.requests);
  addMap(into.invocations, c.invocations);
  addMap(into.violations, c.violations);
  into.bytes_out += c.bytes_out ?? 0;
  into.cpu_ms += c.cpu_ms ?? 0;
  into.subrequests += c.subrequests ?? 0;
}

const sum = (m: Record<string, number> | undefined) => Object.values(m ?? {}).reduce((a, b) => a + b, 0);

/** True when nothing at all was served in the window. */
export function isEmpty(b: Buckets): boolean {
  return sum(b.totals.requests) === 0 && sum(b.totals.invocations) === 0 && b.totals.bytes_out === 0;
}

/** True when no worker ran in the window. */
export function noWorker(b: Buckets): boolean {
  return sum(b.totals.invocations) === 0;
}

export type Unit = 'count' | 'bytes' | 'ms';

export interface Series {
  key: string;
  label: string;
  color: string;
  values: number[];
  total: number;
}

/** One chart's data: x values, its series, and the total of all of them. */
export interface Chart {
  id: string;
  title: string;
  /** What the chart counts, one sentence (the figure's description). */
  description: string;
  unit: Unit;
  times: number[];
  stepMs: number;
  series: Series[];
  total: number;
  /** Show each series' name and total: the chart breaks its total down (by class, outcome or kind). */
  legend: boolean;
}

// Series colours: distinct in hue and lightness on white (each at least
// 3:1 against it, as WCAG asks of graphics); every series is also named
// in the legend, the hover values and the table.
export const colors = {
  '1xx': '#6b7280',
  '2xx': '#059669',
  '3xx': '#2563eb',
  '4xx': '#d97706',
  '5xx': '#dc2626',
  bytes: '#4f46e5',
  cpu: '#9333ea',
  subrequests: '#0891b2',
} as const;

const outcomeColors: Record<string, string> = {
  ok: '#059669',
  exception: '#dc2626',
  exceededCpu: '#d97706',
  exceededSubrequests: '#2563eb',
  exceededMemory: '#9333ea',
  responseTooLarge: '#db2777',
  requestTooLarge: '#0891b2',
  canceled: '#6b7280',
  other: '#374151',
};

const outcomeLabels: Record<string, string> = {
  ok: 'OK',
  exception: 'Exception',
  exceededCpu: 'CPU limit',
  exceededSubrequests: 'Subrequest limit',
  exceededMemory: 'Memory limit',
  responseTooLarge: 'Response too large',
  requestTooLarge: 'Request too large',
  canceled: 'Canceled',
  other: 'Other',
};

/** The order outcomes are listed in (the API's). */
const outcomeOrder = Object.keys(outcomeLabels);

export function outcomeLabel(o: string): string {
  return outcomeLabels[o] ?? o;
}

function series(b: Buckets, key: string, label: string, color: string, pick: (c: UsageCounters) => number): Series {
  const values = b.points.map((c) => pick(c) ?? 0);
  return { key, label, color, values, total: values.reduce((a, v) => a + v, 0) };
}

function chart(b: Buckets, c: Omit<Chart, 'times' | 'stepMs' | 'total' | 'legend'> & { legend?: boolean }): Chart {
  return { legend: false, ...c, times: b.times, stepMs: b.stepMs, total: c.series.reduce((a, s) => a + s.total, 0) };
}

/** Keys of a map field seen anywhere in the window, in order, with a value. */
function keysWithTraffic(b: Buckets, field: 'invocations' | 'violations'): string[] {
  const seen = Object.keys(b.totals[field]).filter((k) => b.totals[field][k] > 0);
  return seen.sort((x, y) => (outcomeOrder.indexOf(x) + 1 || 99) - (outcomeOrder.indexOf(y) + 1 || 99) || x.localeCompare(y));
}

/** Requests by status class: 2xx to 5xx always, 1xx when there were any. */
export function requestsChart(b: Buckets): Chart {
  const classes = ['2xx', '3xx', '4xx', '5xx'];
  if ((b.totals.requests['1xx'] ?? 0) > 0) classes.unshift('1xx');
  return chart(b, {
    id: 'requests',
    title: 'Requests',
    description: 'Answered requests by status class',
    unit: 'count',
    legend: true,
    series: classes.map((k) => series(b, k, k, colors[k as keyof typeof colors], (c) => c.requests[k] ?? 0)),
  });
}

export function bytesChart(b: Buckets): Chart {
  return chart(b, {
    id: 'bytes',
    title: 'Bytes out',
    description: 'Response body bytes sent',
    unit: 'bytes',
    series: [series(b, 'bytes_out', 'Bytes out', colors.bytes, (c) => c.bytes_out)],
  });
}

/** Worker invocations by outcome: OK always, every other outcome that happened. */
export function invocationsChart(b: Buckets): Chart {
  const keys = ['ok', ...keysWithTraffic(b, 'invocations').filter((k) => k !== 'ok')];
  return chart(b, {
    id: 'invocations',
    title: 'Worker invocations',
    description: 'Worker invocations by outcome',
    unit: 'count',
    legend: true,
    series: keys.map((k) => series(b, k, outcomeLabel(k), outcomeColors[k] ?? outcomeColors.other, (c) => c.invocations[k] ?? 0)),
  });
}

export function cpuChart(b: Buckets): Chart {
  return chart(b, {
    id: 'cpu',
    title: 'Worker CPU time',
    description: "The workers' guest CPU time",
    unit: 'ms',
    series: [series(b, 'cpu_ms', 'CPU time', colors.cpu, (c) => c.cpu_ms)],
  });
}

export function subrequestsChart(b: Buckets): Chart {
  return chart(b, {
    id: 'subrequests',
    title: 'Subrequests',
    description: "The workers' fetch calls, refused ones included",
    unit: 'count',
    series: [series(b, 'subrequests', 'Subrequests', colors.subrequests, (c) => c.subrequests)],
  });
}

/** Invocations that did not end OK, by kind; one "Violations" series of zeros when there were none. */
export function violationsChart(b: Buckets): Chart {
  const keys = keysWithTraffic(b, 'violations');
  return chart(b, {
    id: 'violations',
    title: 'Limit violations',
    description: 'Worker invocations stopped by a limit or failed, by kind',
    unit: 'count',
    legend: keys.length > 0,
    series: keys.length
      ? keys.map((k) => series(b, k, outcomeLabel(k), outcomeColors[k] ?? outcomeColors.other, (c) => c.violations[k] ?? 0))
      : [series(b, 'violations', 'Violations', outcomeColors.exception, () => 0)],
  });
}

/** CPU time in words: "0 ms", "0.4 ms", "12.5 ms", "350 ms", "1.2 s", "42 s", "3.5 min", "2.1 h". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0 ms';
  const one = (v: number) => (v < 10 ? String(Math.round(v * 10) / 10) : String(Math.round(v)));
  if (ms < 100) return `${String(Math.round(ms * 10) / 10)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${one(ms / 1000)} s`;
  if (ms < HOUR) return `${one(ms / MIN)} min`;
  return `${one(ms / HOUR)} h`;
}

/** A count for an axis: "950", "1.2k", "45k", "3.4M". */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '';
  const a = Math.abs(n);
  const f = (v: number, s: string) => (v < 10 ? String(Math.round(v * 10) / 10) : String(Math.round(v))) + s;
  if (a < 1000) return String(Math.round(n * 100) / 100);
  if (a < 1e6) return f(n / 1e3, 'k');
  if (a < 1e9) return f(n / 1e6, 'M');
  return f(n / 1e9, 'G');
}

/** A value in the chart's unit, in full (legend, table). */
export function formatValue(unit: Unit, v: number): string {
  if (unit === 'bytes') return bytes(v);
  if (unit === 'ms') return duration(v);
  return count(v);
}

/** A value in the chart's unit, short (axis ticks). */
export function formatTick(unit: Unit, v: number): string {
  if (unit === 'bytes') return bytes(v);
  if (unit === 'ms') return duration(v);
  return compact(v);
}

/** A bucket's start for the table: "2026-12-05 08:15" (UTC). */
export function bucketLabel(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

/** The table's rows: buckets where any series is not zero. */
export function rowsWithData(c: Chart): number[] {
  const rows: number[] = [];
  for (let i = 0; i < c.times.length; i++) {
    if (c.series.some((s) => s.values[i] !== 0)) rows.push(i);
  }
  return rows;
}

/** The chart in one sentence, for screen readers: totals by series and the busiest bucket. */
export function summary(c: Chart, range: Range): string {
  const parts = [`${c.description}, ${range.words}: ${formatValue(c.unit, c.total)} in total`];
  if (c.series.length > 1) parts.push(c.series.map((s) => `${s.label} ${formatValue(c.unit, s.total)}`).join(', '));
  let peak = -1;
  let at = 0;
  c.times.forEach((_, i) => {
    const v = c.series.reduce((a, s) => a + s.values[i], 0);
    if (v > peak) [peak, at] = [v, i];
  });
  if (peak > 0) parts.push(`busiest ${range.stepWords.replace('per ', '')} from ${bucketLabel(c.times[at])} UTC with ${formatValue(c.unit, peak)}`);
  return parts.join('; ') + '.';
}
