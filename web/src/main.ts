// The dashboard's shell: log in with a token, a navigation bar, one view at a time chosen by the URL's hash
// (#/fleet, #/queues, #/jobs, #/jobs/ID, #/services, #/audit, #/cost), refreshed every few seconds while the
// tab is visible. Views are plain modules (views/*.ts): render once, then refresh in place.
import './style.css';
import { call, setToken, token, whenUnauthorized, type Whoami } from './api';
import { clear, h } from './dom';
import { auditView } from './views/audit';
import { costView } from './views/cost';
import { fleetView } from './views/fleet';
import { jobView } from './views/job';
import { jobsView } from './views/jobs';
import { queuesView } from './views/queues';
import { servicesView } from './views/services';
import type { View, ViewContext } from './views/view';

const app = document.getElementById('app')!;

const routes: { path: string; label: string; admin?: boolean; make: (ctx: ViewContext, arg: string) => View }[] =
  [
    { path: 'fleet', label: 'Fleet', make: fleetView },
    { path: 'queues', label: 'Queues', make: queuesView },
    { path: 'jobs', label: 'Jobs', make: (ctx, arg) => (arg ? jobView(ctx, arg) : jobsView(ctx)) },
    { path: 'services', label: 'Services', make: servicesView },
    { path: 'audit', label: 'Audit', admin: true, make: auditView },
    { path: 'cost', label: 'Cost', make: costView },
  ];

let current: View | null = null;
let timer = 0;
let who: Whoami | null = null;

function login(message = ''): void {
  current?.dispose?.();
  current = null;
  clear(app);
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'token-help',
  });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    { class: 'login', 'aria-label': 'Log in' },
    h('h1', {}, 'awan'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'muted' }, 'The token from awan token create; it stays in this tab only.'),
    h('button', { type: 'submit' }, 'Log in'),
    error,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      who = await call('/v1/whoami');
      if (!location.hash || location.hash === '#/login') location.hash = '#/fleet';
      else void show();
    } catch (err) {
      setToken(null);
      error.textContent = `Not logged in: ${(err as Error).message}`;
    }
  });
  app.appendChild(h('main', {}, form));
  input.focus();
}

async function show(): Promise<void> {
  if (!token()) return login();
  if (!who) {
    try {
      who = await call('/v1/whoami');
    } catch (err) {
      setToken(null);
      return login(`Not logged in: ${(err as Error).message}`);
    }
  }
  const me: Whoami = who!;
  const [path = 'fleet', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const route = routes.find((r) => r.path === path) ?? routes[0];
  current?.dispose?.();
  clear(app);
  const nav = h(
    'nav',
    { 'aria-label': 'Views' },
    h('span', { class: 'brand' }, 'awan'),
    ...routes
      .filter((r) => !r.admin || me.role === 'admin')
      .map((r) =>
        h('a', { href: `#/${r.path}`, 'aria-current': r === route ? 'page' : undefined }, r.label),
      ),
    h('span', { class: 'who' }, me.tenant ? `${me.user ? me.user + ' @ ' : ''}${me.tenant} (${me.role})` : `fleet ${me.role}`),
    h('button', { type: 'button', onclick: () => { setToken(null); who = null; login(); } }, 'Log out'),
  );
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const main = h('main', { id: 'view' });
  app.append(h('header', {}, nav), main, h('footer', {}, status));
  const ctx: ViewContext = { who: me, status: (s) => (status.textContent = s) };
  let arg = rest.join('/');
  try {
    arg = decodeURIComponent(arg);
  } catch {
    /* a malformed escape: the text as it is */
  }
  const view = route.make(ctx, arg);
  current = view;
  document.title = `awan · ${view.title}`;
  try {
    performance.mark('awan:render:start');
    await view.render(main);
    performance.measure('awan:render', 'awan:render:start');
    ctx.status(`updated ${new Date().toISOString().slice(11, 19)} UTC`);
  } catch (err) {
    main.appendChild(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  }
}

// Live updates: the current view refreshes every `every_ms` while the tab is visible (a hidden tab asks
// nothing of the server), one refresh at a time.
function schedule(): void {
  window.clearTimeout(timer);
  const view = current;
  timer = window.setTimeout(async () => {
    if (view && view === current && view.refresh && !document.hidden) {
      try {
        performance.mark('awan:update:start');
        await view.refresh();
        performance.measure('awan:update', 'awan:update:start');
        app.querySelector('.status')!.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
      } catch (err) {
        app.querySelector('.status')!.textContent = `update failed: ${(err as Error).message}`;
      }
    }
    schedule();
  }, current?.every_ms ?? 3000);
}

// A token refused once logged in (expired, revoked): back to the form. (While logging in, the form says why.)
whenUnauthorized(() => {
  if (!who) return;
  setToken(null);
  who = null;
  login('The server refused the token (expired, revoked or wrong): log in again.');
});
window.addEventListener('hashchange', () => void show());
void show().then(schedule);
