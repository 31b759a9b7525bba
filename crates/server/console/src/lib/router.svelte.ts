// A tiny history router under /console: the server answers every console path
// with the app shell, so deep links and reloads work.

const BASE = '/console';

function current(): string {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return p === '' ? '/' : p;
}

export const route = $state({ path: current() });

export function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  route.path = path;
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => {
  route.path = current();
});
