import { describe, expect, it } from 'vitest';
import type { UsageCounters } from './api';
import {
  bucketLabel,
  buckets,
  bytesChart,
  compact,
  cpuChart,
  duration,
  formatTick,
  formatValue,
  invocationsChart,
  isEmpty,
  noWorker,
  rangeById,
  ranges,
  requestsChart,
  rowsWithData,
  stepMs,
  subrequestsChart,
  summary,
  tailWindow,
  usageWindow,
  withTail,
  violationsChart,
  zeroCounters,
  type UsageSeries,
} from './usage';

function point(time: string, c: Partial<UsageCounters>): UsageCounters & { time: string } {
  return { ...zeroCounters(), ...c, time };
}

const ONE_MIN: UsageSeries = {
  site: 'blog',
  from: '2026-12-05T08:00:00Z',
  to: '2026-12-05T08:05:00Z',
  step: '1m',
  points: [
    // 08:00 and 08:03 missing (a gap), 08:04 in the answer twice (two
    // nodes' rows the API did not merge) and one point outside the window.
    point('2026-12-05T08:01:00Z', { requests: { '2xx': 3, '4xx': 1 }, bytes_out: 2048, cpu_ms: 1.5, subrequests: 2, invocations: { ok: 3 } }),
    point('2026-12-05T08:02:00Z', { requests: { '2xx': 1, '5xx': 2 }, bytes_out: 512, invocations: { ok: 1, exceededCpu: 2 }, violations: { exceededCpu: 2 }, cpu_ms: 10 }),
    point('2026-12-05T08:04:00Z', { requests: { '2xx': 1 } }),
    point('2026-12-05T08:04:30Z', { requests: { '2xx': 1 } }),
    point('2026-12-05T08:05:00Z', { requests: { '2xx': 100 } }),
  ],
  totals: zeroCounters(),
};

describe('ranges and their windows', () => {
  it.each([
    // now inside a bucket: the bucket in progress is the last one
    ['1h', '2026-12-05T08:15:42Z', '2026-12-05T07:16:00Z', '2026-12-05T08:16:00Z', '1m', 60],
    ['24h', '2026-12-05T08:17:42Z', '2026-12-04T08:20:00Z', '2026-12-05T08:20:00Z', '5m', 288],
    ['7d', '2026-12-05T08:17:42Z', '2026-11-28T09:00:00Z', '2026-12-05T09:00:00Z', '1h', 168],
    // now exactly on a boundary starts a new bucket
    ['24h on a boundary', '2026-12-05T08:20:00Z', '2026-12-04T08:25:00Z', '2026-12-05T08:25:00Z', '5m', 288],
  ])('%s at %s', (id, now, from, to, step, n) => {
    const range = rangeById(id.split(' ')[0])!;
    const w = usageWindow(range, Date.parse(now));
    expect(w).toEqual({ from, to, step });
    expect((Date.parse(w.to) - Date.parse(w.from)) / stepMs(w.step)!).toBe(n);
  });

  it('offers 1 hour, 24 hours and 7 days, within the API limit of 1,500 buckets', () => {
    expect(ranges.map((r) => r.label)).toEqual(['1 hour', '24 hours', '7 days']);
    for (const r of ranges) expect(r.span / r.stepMs).toBeLessThanOrEqual(1500);
    expect(rangeById('30d')).toBeUndefined();
    expect(rangeById(null)).toBeUndefined();
  });
});

describe('the fresh tail of hourly ranges', () => {
  const week = rangeById('7d')!;
  const w = usageWindow(week, Date.parse('2026-12-05T08:17:42Z'));

  it('reads the last 2 hours by half hours', () => {
    expect(tailWindow(week, w)).toEqual({ from: '2026-12-05T07:00:00Z', to: '2026-12-05T09:00:00Z', step: '30m' });
    expect(tailWindow(rangeById('24h')!, usageWindow(rangeById('24h')!, Date.now()))).toBeUndefined();
  });

  it("replaces the roll-ups' last hours with the minute rows' sums", () => {
    const hourly: UsageSeries = {
      from: w.from,
      to: w.to,
      step: '1h',
      points: [
        point('2026-11-28T09:00:00Z', { requests: { '2xx': 5 } }),
        point('2026-12-05T06:00:00Z', { requests: { '2xx': 1 } }),
        // stale roll-ups of the last two hours
        point('2026-12-05T07:00:00Z', { requests: { '2xx': 2 } }),
        point('2026-12-05T08:00:00Z', { requests: { '2xx': 0 } }),
      ],
      totals: zeroCounters(),
    };
    const tail: UsageSeries = {
      from: '2026-12-05T07:00:00Z',
      to: w.to,
      step: '30m',
      points: [
        point('2026-12-05T07:00:00Z', { requests: { '2xx': 2 } }),
        point('2026-12-05T07:30:00Z', { requests: { '2xx': 1 } }),
        point('2026-12-05T08:00:00Z', { requests: { '4xx': 1 } }),
        point('2026-12-05T08:30:00Z', { requests: { '2xx': 3 } }),
      ],
      totals: zeroCounters(),
    };
    const b = buckets(withTail(hourly, tail));
    expect(b.times).toHaveLength(168);
    expect(b.points.slice(-3).map((p) => p.requests)).toEqual([{ '2xx': 1 }, { '2xx': 3 }, { '2xx': 3, '4xx': 1 }]);
    expect(b.points[0].requests).toEqual({ '2xx': 5 });
    expect(b.totals.requests).toEqual({ '2xx': 12, '4xx': 1 });
  });
});

describe('stepMs', () => {
  it.each([
    ['1m', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['6h', 21_600_000],
    ['1d', 86_400_000],
    ['0m', undefined],
    ['1s', undefined],
    ['', undefined],
  ])('%s → %s', (s, want) => expect(stepMs(s)).toBe(want));
});

describe('buckets', () => {
  const b = buckets(ONE_MIN);

  it('has every bucket of the window on the step, gaps as zeros', () => {
    expect(b.times.map(bucketLabel)).toEqual([
      '2026-12-05 08:00',
      '2026-12-05 08:01',
      '2026-12-05 08:02',
      '2026-12-05 08:03',
      '2026-12-05 08:04',
    ]);
    expect(b.stepMs).toBe(60_000);
    expect(b.points[0]).toEqual(zeroCounters());
    expect(b.points[3]).toEqual(zeroCounters());
  });

  it('adds points off the grid to their bucket and leaves out points outside the window', () => {
    expect(b.points[4].requests['2xx']).toBe(2);
    expect(b.totals.requests['2xx']).toBe(6);
  });

  it('totals what it drew, not what the answer said', () => {
    expect(b.totals).toEqual({
      requests: { '2xx': 6, '4xx': 1, '5xx': 2 },
      bytes_out: 2560,
      invocations: { ok: 4, exceededCpu: 2 },
      violations: { exceededCpu: 2 },
      cpu_ms: 11.5,
      subrequests: 2,
    });
  });

  it('is empty for a broken answer', () => {
    expect(buckets({ ...ONE_MIN, step: 'soon' }).times).toEqual([]);
    expect(buckets({ ...ONE_MIN, to: ONE_MIN.from }).times).toEqual([]);
  });

  it('rounds a partial last bucket up', () => {
    expect(buckets({ ...ONE_MIN, to: '2026-12-05T08:05:30Z' }).times).toHaveLength(6);
  });

  it('tells an empty window and one without a worker', () => {
    expect(isEmpty(b)).toBe(false);
    expect(noWorker(b)).toBe(false);
    const none = buckets({ ...ONE_MIN, points: [] });
    expect(isEmpty(none)).toBe(true);
    expect(noWorker(none)).toBe(true);
    expect(noWorker(buckets({ ...ONE_MIN, points: [point('2026-12-05T08:01:00Z', { requests: { '2xx': 1 } })] }))).toBe(true);
  });
});

describe('charts', () => {
  const b = buckets(ONE_MIN);

  it('requests: 2xx to 5xx, each a series with its total', () => {
    const c = requestsChart(b);
    expect(c.series.map((s) => [s.label, s.total])).toEqual([
      ['2xx', 6],
      ['3xx', 0],
      ['4xx', 1],
      ['5xx', 2],
    ]);
    expect(c.series[0].values).toEqual([0, 3, 1, 0, 2]);
    expect(c.total).toBe(9);
    expect(c.times).toBe(b.times);
    expect(new Set(c.series.map((s) => s.color)).size).toBe(4);
  });

  it('requests: 1xx only when there were some', () => {
    const c = requestsChart(buckets({ ...ONE_MIN, points: [point('2026-12-05T08:01:00Z', { requests: { '1xx': 1 } })] }));
    expect(c.series.map((s) => s.key)).toEqual(['1xx', '2xx', '3xx', '4xx', '5xx']);
  });

  it('bytes, CPU time and subrequests: one series each', () => {
    expect(bytesChart(b).series[0].values).toEqual([0, 2048, 512, 0, 0]);
    expect(bytesChart(b).unit).toBe('bytes');
    expect(cpuChart(b).total).toBe(11.5);
    expect(cpuChart(b).unit).toBe('ms');
    expect(subrequestsChart(b).total).toBe(2);
    expect([bytesChart(b), cpuChart(b), subrequestsChart(b)].map((c) => c.legend)).toEqual([false, false, false]);
    expect([requestsChart(b), invocationsChart(b)].map((c) => c.legend)).toEqual([true, true]);
  });

  it('invocations: OK always, then the outcomes that happened, labelled', () => {
    const c = invocationsChart(b);
    expect(c.series.map((s) => [s.label, s.values])).toEqual([
      ['OK', [0, 3, 1, 0, 0]],
      ['CPU limit', [0, 0, 2, 0, 0]],
    ]);
    expect(invocationsChart(buckets({ ...ONE_MIN, points: [] })).series.map((s) => s.label)).toEqual(['OK']);
  });

  it('violations: by kind, or one series of zeros', () => {
    expect(violationsChart(b).series.map((s) => [s.label, s.total])).toEqual([['CPU limit', 2]]);
    expect(violationsChart(b).legend).toBe(true);
    const none = violationsChart(buckets({ ...ONE_MIN, points: [] }));
    expect(none.series.map((s) => [s.label, s.total])).toEqual([['Violations', 0]]);
    expect(none.legend).toBe(false);
    expect(none.series[0].values).toEqual([0, 0, 0, 0, 0]);
  });

  it('the table lists only buckets with traffic', () => {
    expect(rowsWithData(requestsChart(b))).toEqual([1, 2, 4]);
    expect(rowsWithData(violationsChart(b))).toEqual([2]);
  });

  it('summarises the chart in words', () => {
    expect(summary(requestsChart(b), ranges[0])).toBe(
      'Answered requests by status class, last hour: 9 in total; 2xx 6, 3xx 0, 4xx 1, 5xx 2; busiest minute from 2026-12-05 08:01 UTC with 4.',
    );
    expect(summary(bytesChart(buckets({ ...ONE_MIN, points: [] })), ranges[2])).toBe('Response body bytes sent, last 7 days: 0 B in total.');
  });
});

describe('units', () => {
  it.each([
    [0, '0 ms'],
    [0.44, '0.4 ms'],
    [12.55, '12.6 ms'],
    [350.2, '350 ms'],
    [1234, '1.2 s'],
    [42_000, '42 s'],
    [210_000, '3.5 min'],
    [7_560_000, '2.1 h'],
    [-1, '0 ms'],
  ])('duration(%s) = %s', (ms, want) => expect(duration(ms)).toBe(want));

  it.each([
    [0, '0'],
    [0.5, '0.5'],
    [950, '950'],
    [1200, '1.2k'],
    [45_000, '45k'],
    [3_400_000, '3.4M'],
    [2e9, '2G'],
  ])('compact(%s) = %s', (n, want) => expect(compact(n)).toBe(want));

  it('formats values and ticks in the chart unit', () => {
    expect(formatValue('bytes', 1536)).toBe('1.5 KiB');
    expect(formatValue('bytes', 5 * 1024 * 1024)).toBe('5 MiB');
    expect(formatValue('ms', 1500)).toBe('1.5 s');
    expect(formatValue('count', 12345)).toBe('12,345');
    expect(formatTick('count', 12345)).toBe('12k');
    expect(formatTick('bytes', 2048)).toBe('2 KiB');
  });
});
