// The Versions tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
export default function VersionsTab() {
  return <p class="muted">The Versions tab is being built.</p>;
}
