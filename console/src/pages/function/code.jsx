export default function CodeTab() {
  return <p class="muted">The Code tab is being built.</p>;
}
