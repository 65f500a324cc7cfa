// The Monitor tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
export default function MonitorTab() {
  return <p class="muted">The Monitor tab is being built.</p>;
}
