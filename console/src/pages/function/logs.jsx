export default function LogsTab() {
  return <p class="muted">The Logs tab is being built.</p>;
}
