// A tiny SVG line of values (fixed size, so tables never jump when data arrives).
export function Sparkline({ values, width = 96, height = 24, label, kind = "normal" }) {
  const data = values ?? [];
  const max = Math.max(1, ...data);
  const step = data.length > 1 ? width / (data.length - 1) : width;
  const points = data.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  const total = data.reduce((a, b) => a + b, 0);
  return (
    <span class={`spark spark-${kind}${total === 0 ? " spark-zero" : ""}`} title={label}>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label ?? `total ${total}`}>
        <line x1="0" x2={width} y1={height - 1.5} y2={height - 1.5} class="spark-base" />
        {data.length > 1 ? <polyline points={points} class="spark-line" fill="none" /> : null}
      </svg>
      <span class="spark-total">{values ? total : "…"}</span>
    </span>
  );
}
