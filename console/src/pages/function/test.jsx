export default function TestTab() {
  return <p class="muted">The Test tab is being built.</p>;
}
