// The Configuration tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
export default function ConfigurationTab() {
  return <p class="muted">The Configuration tab is being built.</p>;
}
