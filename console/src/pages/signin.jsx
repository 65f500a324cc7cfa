// Sign-in with an access key: checked with a real signed call before it is kept.
import { useState } from "preact/hooks";
import { ApiError, lambda } from "../api/client.js";
import { makeCredentials, saveCredentials, signOut } from "../api/credentials.js";
import { Button, ErrorBanner, Field } from "../ui/index.js";

export default function SignInPage({ onSignedIn }) {
  const [accessKeyId, setAccessKeyId] = useState("");
  const [secret, setSecret] = useState("");
  const [region, setRegion] = useState("us-east-1");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const credentials = await makeCredentials(accessKeyId, secret, region);
      await saveCredentials(credentials);
      await lambda("GET", "/2016-08-19/account-settings/");
      setSecret("");
      onSignedIn();
    } catch (err) {
      await signOut().catch(() => {});
      setError(err instanceof ApiError ? err : new ApiError(0, "SignInFailed", String(err.message ?? err)));
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to loam</h1>
        <p class="muted">
          Use one of this server's access keys (<code>loam keys create</code> prints one). The secret stays in
          this browser only as a key it cannot read back.
        </p>
        <Field label="Access key ID" name="accessKeyId" autocomplete="username" required value={accessKeyId} onInput={(e) => setAccessKeyId(e.currentTarget.value)} />
        <Field label="Secret access key" name="secretAccessKey" type="password" autocomplete="current-password" required value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
        <Field label="Region" name="region" required value={region} pattern="[a-z]{2}(-[a-z]+)+-\d" onInput={(e) => setRegion(e.currentTarget.value)} />
        <div class="banner-slot">
          <ErrorBanner error={error} />
        </div>
        <Button kind="primary" type="submit" busy={busy}>Sign in</Button>
      </form>
    </main>
  );
}
