// A uPlot time-series chart of fixed height: created once, fed new data in place (live updates
// never rebuild it or move the page), coloured from the theme's CSS variables.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { money } from "./cost.js";

const HEIGHT = 190;
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];

function themeColours(el) {
  const css = getComputedStyle(el);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v("--muted", "#5f6b7a"),
    grid: v("--border", "#d5d9e0"),
    series: [v("--accent", "#0b63c5"), v("--danger", "#c0262d"), v("--warn", "#8a5a00"), v("--ok", "#1d7f3a")],
  };
}

function options(el, width, series, unit) {
  const colours = themeColours(el);
  const axis = { stroke: colours.text, grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid, width: 1 }, font: "11px system-ui, sans-serif" };
  return {
    width,
    height: HEIGHT,
    cursor: { focus: { prox: 16 } },
    legend: { show: true, live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, unit === "count" ? 1 : 0.000001) * 1.1] } },
    axes: [axis, {
      ...axis,
      size: unit === "usd" ? 76 : 60,
      // Counts step by whole numbers: no "0.5 invocations".
      ...(unit === "count" ? { incrs: COUNT_STEPS } : {}),
      values: (u, ticks) => ticks.map((t) => format(t, unit, true)),
    }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: colours.series[i % colours.series.length],
        width: 1.75,
        fill: i === 0 ? `${colours.series[0]}22` : undefined,
        spanGaps: false,
        points: { size: 5 },
        value: (u, val) => (val == null ? "—" : format(val, unit)),
      })),
    ],
  };
}

// `tick`: an axis label, kept short.
export function format(value, unit, tick = false) {
  if (value == null) return "—";
  if (unit === "ms") {
    if (value >= 1000) return `${+(value / 1000).toFixed(2)} s`;
    return `${value < 10 ? +value.toFixed(tick ? 1 : 2) : Math.round(value)} ms`;
  }
  if (unit === "usd" && tick && value > 0 && value < 0.01) return `$${value.toExponential(0)}`;
  if (unit === "usd") return money(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

// data: [xs, ...ys] (uPlot's columns); series: [{label}]; empty: the text shown over no data.
export function Chart({ data, series, unit = "count", empty, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  const hasData = data && data.slice(1).some((ys) => ys.some((y) => y != null && y !== 0));

  useEffect(() => {
    const el = box.current;
    const width = Math.max(200, el.clientWidth);
    plot.current = new uPlot(options(el, width, series, unit), data || [[], ...series.map(() => [])], el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    // A theme change recolours the chart.
    const theme = new MutationObserver(() => {
      const current = plot.current.data;
      plot.current.destroy();
      plot.current = new uPlot(options(el, Math.max(200, el.clientWidth), series, unit), current, el);
    });
    theme.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => {
      resize.disconnect();
      theme.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.map((s) => s.label).join("|"), unit]);

  useEffect(() => {
    if (plot.current && data) plot.current.setData(data);
  }, [data]);

  return (
    <div class="chart-box" role="img" aria-label={label}>
      <div ref={box} />
      {data && !hasData ? <div class="chart-empty">{empty}</div> : null}
    </div>
  );
}
