// The console's shell: sign-in gate, header, navigation and the page router.
import { useEffect, useState } from "preact/hooks";
import { currentCredentials, loadCredentials, signOut } from "./api/credentials.js";
import { Link, navigate, useRoute } from "./router.jsx";
import { effectiveTheme, toggleTheme } from "./theme.js";
import { Button, Loading, Toasts } from "./ui/index.js";
import AccountPage from "./pages/account.jsx";
import CreatePage from "./pages/create.jsx";
import FunctionPage from "./pages/function/index.jsx";
import FunctionsPage from "./pages/functions.jsx";
import SignInPage from "./pages/signin.jsx";

function route(path) {
  if (path === "/" || path === "") return { page: "functions" };
  if (path === "/create") return { page: "create" };
  if (path === "/account") return { page: "account" };
  const match = path.match(/^\/functions\/([^/]+)(?:\/([a-z]+))?\/?$/);
  if (match) return { page: "function", name: decodeURIComponent(match[1]), tab: match[2] ?? "code" };
  return { page: "missing" };
}

const TITLES = { functions: "Functions", create: "Create function", account: "Account", missing: "Not found" };

function Header({ credentials, onSignOut }) {
  const [theme, setTheme] = useState(effectiveTheme());
  const path = useRoute();
  const section = path.startsWith("/account") ? "account" : "functions";
  return (
    <header class="topbar">
      <Link href="/" class="brand">loam <span>console</span></Link>
      <nav aria-label="Main">
        <Link href="/" aria-current={section === "functions" ? "page" : undefined}>Functions</Link>
        <Link href="/account" aria-current={section === "account" ? "page" : undefined}>Account</Link>
      </nav>
      <div class="topbar-end">
        <span class="region" title="Region">{credentials.region}</span>
        <span class="key-id" title="Access key id">{credentials.accessKeyId}</span>
        <Button kind="ghost" onClick={() => setTheme(toggleTheme())} aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}>
          {theme === "dark" ? "Light" : "Dark"} theme
        </Button>
        <Button kind="ghost" onClick={onSignOut}>Sign out</Button>
      </div>
    </header>
  );
}

function Page({ path }) {
  const where = route(path);
  useEffect(() => {
    document.title = `${where.page === "function" ? where.name : TITLES[where.page]} · loam console`;
  }, [path]);
  switch (where.page) {
    case "functions":
      return <FunctionsPage />;
    case "create":
      return <CreatePage />;
    case "account":
      return <AccountPage />;
    case "function":
      return <FunctionPage key={where.name} name={where.name} tab={where.tab} />;
    default:
      return (
        <section class="page">
          <h1>Not found</h1>
          <p>
            The console has no page here. <Link href="/">Back to the functions</Link>.
          </p>
        </section>
      );
  }
}

export function App() {
  const [state, setState] = useState("loading");
  const path = useRoute();
  useEffect(() => {
    loadCredentials()
      .then((c) => setState(c ? "in" : "out"))
      .catch(() => setState("out"));
  }, []);
  if (state === "loading") return <Loading label="Opening the console…" />;
  if (state === "out") return <SignInPage onSignedIn={() => setState("in")} />;
  const onSignOut = async () => {
    await signOut();
    setState("out");
    navigate("/", { replace: true });
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <Header credentials={currentCredentials()} onSignOut={onSignOut} />
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
      <Toasts />
    </div>
  );
}
