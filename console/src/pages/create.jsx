export default function CreatePage() {
  return <section class="page"><h1>Create function</h1></section>;
}
