// The Triggers tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
export default function TriggersTab() {
  return <p class="muted">The Triggers tab is being built.</p>;
}
