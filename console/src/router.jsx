// History-API routing under /console.
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";
const listeners = new Set();

export function currentPath() {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "/";
  return path || "/";
}

export function navigate(path, { replace = false } = {}) {
  const url = BASE + path;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((listener) => listener());
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

export function useRoute() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const listener = () => setPath(currentPath());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return path;
}

// A real link (middle-click opens a tab), navigating in place on a plain click.
export function Link({ href, children, ...rest }) {
  const onClick = (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a href={BASE + href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
