import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { bucketLabel, formatValue, rowsWithData, summary, type Chart, type Range } from '../usage';
import { errorMessage } from '../errors';
import type { ChartHandle } from './chart';

type ChartModule = typeof import('./chart');
let chartModule: Promise<ChartModule> | undefined;

/** uPlot and the chart code, fetched once, on the first chart a page shows. */
export function loadChart(): Promise<ChartModule> {
  chartModule ??= import('./chart').catch((err) => {
    chartModule = undefined; // the next chart tries again
    throw err;
  });
  return chartModule;
}

/** A colour swatch; its colour is set through the CSSOM (the CSP refuses style attributes). */
function Swatch(props: { color: string }) {
  const ref = useRef<HTMLSpanElement>(null);
  useLayoutEffect(() => {
    ref.current?.style.setProperty('--swatch', props.color);
  }, [props.color]);
  return <span ref={ref} class="swatch" aria-hidden="true" />;
}

/** The uPlot canvas of a chart, a placeholder of the same height until uPlot has loaded. */
function Plot(props: { chart: Chart; size: 'large' | 'small'; label: string; onHover: (idx: number | null) => void }) {
  const el = useRef<HTMLDivElement>(null);
  const handle = useRef<ChartHandle | undefined>(undefined);
  const latest = useRef(props);
  latest.current = props;
  const [failed, setFailed] = useState('');
  const shape = props.chart.series.map((s) => s.key).join(',') + '|' + props.chart.unit;
  const height = props.size === 'large' ? 220 : 150;

  useEffect(() => {
    let live = true;
    setFailed('');
    loadChart().then(
      (m) => {
        if (!live || !el.current) return;
        handle.current = m.mountChart(el.current, latest.current.chart, height, (idx) => latest.current.onHover(idx));
      },
      (err) => live && setFailed(errorMessage(err)),
    );
    return () => {
      live = false;
      handle.current?.destroy();
      handle.current = undefined;
    };
  }, [shape, height]);

  useEffect(() => {
    handle.current?.setData(props.chart);
  }, [props.chart]);

  return (
    <div class={'chart-plot chart-plot-' + props.size} role="img" aria-label={props.label}>
      {failed && <p class="muted chart-failed">The chart could not be loaded ({failed}). Show it as a table instead.</p>}
      <div ref={el} class="chart-canvas" />
    </div>
  );
}

/**
 * One chart as a figure: its title, the total, a legend with each
 * series' total (or its value in the bucket under the pointer), the plot,
 * and a "Show as table" toggle with the numbers of every bucket that had
 * any, for screen readers and for copying.
 */
export function ChartFigure(props: {
  chart: Chart;
  range: Range;
  size?: 'large' | 'small';
  class?: string;
  caption?: string;
  /** Beside totals shown elsewhere: no total, and the legend's values only for the bucket under the pointer. */
  compact?: boolean;
}) {
  const { chart, range } = props;
  const id = useId();
  const [hover, setHover] = useState<number | null>(null);
  const [table, setTable] = useState(false);
  const at = hover !== null && hover < chart.times.length ? hover : null;
  const value = (v: number) => formatValue(chart.unit, v);
  const shown = at === null ? chart.total : chart.series.reduce((a, s) => a + s.values[at], 0);
  const rows = table ? rowsWithData(chart) : [];
  return (
    <figure class={'chart ' + (props.class ?? '')} aria-labelledby={id + '-title'}>
      <figcaption class="chart-head">
        <div class="chart-title">
          <h3 id={id + '-title'}>{props.caption ?? chart.title}</h3>
          <p class="chart-when">
            {at !== null ? `${bucketLabel(chart.times[at])} UTC` : props.compact ? range.stepWords : `Total, ${range.words}`}
          </p>
        </div>
        {!props.compact && <p class="chart-total">{value(shown)}</p>}
        {chart.legend && (
          <ul class="legend" aria-label={`${chart.title}: series`}>
            {chart.series.map((s) => (
              <li key={s.key}>
                <Swatch color={s.color} />
                <span class="legend-label">{s.label}</span>
                {(at !== null || !props.compact) && <span class="legend-value">{value(at === null ? s.total : s.values[at])}</span>}
              </li>
            ))}
          </ul>
        )}
      </figcaption>
      <Plot chart={chart} size={props.size ?? 'large'} label={summary(chart, range)} onHover={setHover} />
      <div class="chart-foot">
        <button
          type="button"
          class="button button-quiet button-small"
          aria-expanded={table}
          aria-controls={id + '-table'}
          onClick={() => setTable(!table)}
        >
          {table ? 'Hide table' : 'Show as table'}
        </button>
      </div>
      <div id={id + '-table'} hidden={!table}>
        {table &&
          (rows.length === 0 ? (
            <p class="muted chart-table-empty">Nothing in the {range.words}.</p>
          ) : (
            <div class="chart-table" tabIndex={0} role="region" aria-label={`${chart.title}, ${range.stepWords}, as a table`}>
              <table class="table">
                <caption class="sr-only">
                  {chart.description}, {range.stepWords} (UTC); intervals without any are left out
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Time (UTC)</th>
                    {chart.series.map((s) => (
                      <th scope="col" key={s.key}>
                        {s.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((i) => (
                    <tr key={chart.times[i]}>
                      <th scope="row">{bucketLabel(chart.times[i])}</th>
                      {chart.series.map((s) => (
                        <td key={s.key} data-label={s.label}>
                          {value(s.values[i])}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </div>
    </figure>
  );
}
