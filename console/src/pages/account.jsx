// The account page: concurrency limits, totals, cost this month.
export default function AccountPage() {
  return <p class="muted">The account page is being built.</p>;
}
