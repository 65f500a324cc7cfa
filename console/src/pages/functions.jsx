export default function FunctionsPage() {
  return <section class="page"><h1>Functions</h1></section>;
}
