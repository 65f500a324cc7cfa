// Small building blocks: buttons, labelled fields, errors, spinners.
import { useId } from "preact/hooks";

export function Button({ kind = "secondary", busy = false, disabled, children, type = "button", ...rest }) {
  return (
    <button type={type} class={`btn btn-${kind}${busy ? " is-busy" : ""}`} disabled={disabled || busy} aria-busy={busy ? "true" : undefined} {...rest}>
      {busy ? <Spinner small /> : null}
      <span>{children}</span>
    </button>
  );
}

// A label and its control. `as` picks input (default), select or textarea.
export function Field({ label, hint, error, as = "input", id, children, class: className, ...rest }) {
  const generated = useId();
  const fieldId = id ?? `f-${generated}`;
  const Control = as;
  const describedBy = [hint ? `${fieldId}-hint` : null, error ? `${fieldId}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${className ? " " + className : ""}`}>
      <label for={fieldId}>{label}</label>
      <Control id={fieldId} aria-describedby={describedBy} aria-invalid={error ? "true" : undefined} {...rest}>
        {children}
      </Control>
      {hint ? <small id={`${fieldId}-hint`} class="hint">{hint}</small> : null}
      {error ? <small id={`${fieldId}-error`} class="field-error">{error}</small> : null}
    </div>
  );
}

// An API error (or any error) as "Code: message", with an optional retry.
export function ErrorBanner({ error, onRetry, onDismiss }) {
  if (!error) return null;
  const text = error.code ? `${error.code}: ${error.detail ?? error.message}` : String(error.message ?? error);
  return (
    <div class="banner banner-error" role="alert">
      <span class="banner-text">{text}</span>
      {onRetry ? <Button kind="link" onClick={onRetry}>Retry</Button> : null}
      {onDismiss ? <Button kind="link" onClick={onDismiss} aria-label="Dismiss">×</Button> : null}
    </div>
  );
}

export function Notice({ children, kind = "info" }) {
  return <div class={`banner banner-${kind}`} role="note">{children}</div>;
}

export function Spinner({ small = false, label }) {
  return (
    <span class={`spinner${small ? " spinner-small" : ""}`} role={label ? "status" : undefined} aria-label={label}>
      <span aria-hidden="true" />
    </span>
  );
}

// A block of reserved height shown while something loads (no layout jump after).
export function Loading({ label = "Loading…", height = "8rem" }) {
  return (
    <div class="loading" style={{ minHeight: height }} role="status">
      <Spinner />
      <span>{label}</span>
    </div>
  );
}
