// Jobs: every job the caller may see, filtered as you type, sorted by any column, with why a pending job
// waits. The table draws only the rows in view (a window over the sorted list), so 50,000 jobs scroll and
// update without redrawing them all. Live updates ask only for the jobs still pending or running and the
// jobs submitted since.
import { allJobs, call, type Job } from '../api';
import { badge, clear, duration, h, when } from '../dom';
import type { View, ViewContext } from './view';

const ROW = 28; // px, fixed so the window's position is arithmetic
const OVERSCAN = 10;

type Column = { key: string; label: string; value: (j: Job, now: number) => string | number; cell?: (j: Job, now: number) => Node | string };

export const columns: Column[] = [
  { key: 'id', label: 'ID', value: (j) => j.id, cell: (j) => h('a', { href: `#/jobs/${j.id}` }, j.id) },
  { key: 'name', label: 'Name', value: (j) => j.name },
  { key: 'tenant', label: 'Tenant', value: (j) => j.tenant },
  { key: 'user', label: 'User', value: (j) => j.user ?? '' },
  { key: 'state', label: 'State', value: (j) => j.state, cell: (j) => badge(j.state) },
  { key: 'gpus', label: 'GPUs', value: (j) => (j.tasks ?? 1) * (j.gpus ?? 0) },
  { key: 'submitted', label: 'Submitted', value: (j) => j.created_ms, cell: (j, now) => when(j.created_ms, now) },
  {
    key: 'time',
    label: 'Time',
    value: (j, now) => (j.state === 'Pending' || j.state === 'Running' ? now : j.updated_ms) - (j.state === 'Running' ? j.updated_ms : j.created_ms),
    cell: (j, now) =>
      j.state === 'Pending'
        ? `waiting ${duration(now - j.created_ms)}`
        : j.state === 'Running'
          ? `running ${duration(now - j.updated_ms)}`
          : `ended ${when(j.updated_ms, now)}`,
  },
  { key: 'nodes', label: 'Nodes', value: (j) => [...new Set(j.placement.map((p) => p.node))].join(',') },
  { key: 'restarts', label: 'Restarts', value: (j) => j.restarts },
  { key: 'gpuh', label: 'GPU-h', value: (j) => j.gpu_hours ?? 0, cell: (j) => (j.gpu_hours ? j.gpu_hours.toFixed(2) : '') },
  { key: 'reason', label: 'Reason', value: (j) => j.message },
];

// A row standing for `px` of rows not drawn (its height set through the style object: the page's policy
// refuses style attributes written as text).
function spacer(px: number): HTMLTableRowElement {
  const tr = h('tr', { class: 'spacer', 'aria-hidden': 'true' });
  tr.style.height = `${px}px`;
  return tr;
}

export function matches(j: Job, text: string, state: string, tenant: string): boolean {
  if (state && j.state !== state) return false;
  if (tenant && j.tenant !== tenant) return false;
  if (!text) return true;
  return (
    j.id.includes(text) ||
    j.name.toLowerCase().includes(text) ||
    j.tenant.includes(text) ||
    (j.user ?? '').toLowerCase().includes(text) ||
    j.message.toLowerCase().includes(text)
  );
}

export function jobsView(ctx: ViewContext): View {
  const jobs = new Map<string, Job>();
  let shown: Job[] = [];
  let sortKey = 'id';
  let sortDesc = true;
  let filterText = '', filterState = '', filterTenant = '';
  let scroller: HTMLDivElement, body: HTMLTableSectionElement, count: HTMLElement, tenantSelect: HTMLSelectElement;
  let headRow: HTMLTableRowElement;

  function recompute(): void {
    performance.mark('awan:jobs:recompute:start');
    const now = Date.now();
    const col = columns.find((c) => c.key === sortKey)!;
    shown = [...jobs.values()].filter((j) => matches(j, filterText, filterState, filterTenant));
    const keyed = shown.map((j) => ({ j, v: col.value(j, now) }));
    keyed.sort((a, b) => {
      const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v));
      return sortDesc ? -c : c;
    });
    shown = keyed.map((k) => k.j);
    count.textContent = `${shown.length} of ${jobs.size} jobs`;
    for (const th of headRow.querySelectorAll('th')) {
      th.setAttribute('aria-sort', th.dataset.key === sortKey ? (sortDesc ? 'descending' : 'ascending') : 'none');
    }
    paint();
    performance.measure('awan:jobs:recompute', 'awan:jobs:recompute:start');
  }

  // Draws the rows in view: a spacer row above and below stands for the rest.
  function paint(): void {
    const now = Date.now();
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - OVERSCAN);
    const visible = Math.ceil((scroller.clientHeight || 600) / ROW) + 2 * OVERSCAN;
    const last = Math.min(shown.length, first + visible);
    clear(body);
    body.appendChild(spacer(first * ROW));
    for (let i = first; i < last; ++i) {
      const j = shown[i];
      body.appendChild(
        h('tr', { 'data-id': j.id }, ...columns.map((c) => h('td', { class: `c-${c.key}` }, c.cell ? c.cell(j, now) : String(c.value(j, now))))),
      );
    }
    body.appendChild(spacer((shown.length - last) * ROW));
  }

  function tenants(): void {
    const names = [...new Set([...jobs.values()].map((j) => j.tenant))].sort();
    if (tenantSelect.options.length === names.length + 1) return;
    const keep = tenantSelect.value;
    clear(tenantSelect);
    tenantSelect.append(h('option', { value: '' }, 'every tenant'), ...names.map((n) => h('option', { value: n }, n)));
    tenantSelect.value = keep;
  }

  return {
    title: 'Jobs',
    every_ms: 3000,
    async render(el) {
      const search = h('input', { id: 'job-filter', type: 'search', placeholder: 'id, name, tenant, user or reason' });
      search.addEventListener('input', () => {
        filterText = search.value.trim().toLowerCase();
        recompute();
      });
      const stateSelect = h(
        'select',
        { id: 'job-state' },
        h('option', { value: '' }, 'every state'),
        ...['Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'TimedOut'].map((s) => h('option', { value: s }, s)),
      );
      stateSelect.addEventListener('change', () => {
        filterState = stateSelect.value;
        recompute();
      });
      tenantSelect = h('select', { id: 'job-tenant' });
      tenantSelect.addEventListener('change', () => {
        filterTenant = tenantSelect.value;
        recompute();
      });
      count = h('span', { class: 'count', role: 'status' });
      headRow = h(
        'tr',
        {},
        ...columns.map((c) =>
          h(
            'th',
            { scope: 'col', 'data-key': c.key, class: `c-${c.key}` },
            h(
              'button',
              {
                type: 'button',
                class: 'sort',
                onclick: () => {
                  sortDesc = sortKey === c.key ? !sortDesc : c.key === 'id';
                  sortKey = c.key;
                  recompute();
                },
              },
              c.label,
            ),
          ),
        ),
      );
      body = h('tbody');
      scroller = h('div', { class: 'scroller', tabindex: 0, 'aria-label': 'Jobs' }, h('table', { class: 'jobs' }, h('thead', {}, headRow), body));
      let pending = 0;
      scroller.addEventListener('scroll', () => {
        if (!pending) pending = requestAnimationFrame(() => ((pending = 0), paint()));
      });
      el.append(
        h('h1', {}, 'Jobs'),
        h(
          'div',
          { class: 'filters' },
          h('label', { for: 'job-filter' }, 'Filter '),
          search,
          h('label', { for: 'job-state' }, ' State '),
          stateSelect,
          h('label', { for: 'job-tenant' }, ' Tenant '),
          tenantSelect,
          ' ',
          count,
        ),
        scroller,
      );
      performance.mark('awan:jobs:start');
      for (const j of await allJobs(undefined, (n) => ctx.status(`loading jobs: ${n}`))) jobs.set(j.id, j);
      tenants();
      recompute();
      performance.measure('awan:jobs', 'awan:jobs:start');
    },
    // Only the live jobs are asked for again; a job that left them is fetched once for its final state.
    async refresh() {
      const newest = [...jobs.keys()].reduce((a, b) => (a > b ? a : b), '');
      const live = [...(await allJobs('Pending')), ...(await allJobs('Running')), ...(await allJobs(undefined, undefined, newest))];
      const seen = new Set(live.map((j) => j.id));
      const gone = [...jobs.values()].filter((j) => (j.state === 'Pending' || j.state === 'Running') && !seen.has(j.id));
      for (const j of live) jobs.set(j.id, j);
      for (const j of gone.slice(0, 50)) {
        try {
          jobs.set(j.id, await call(`/v1/jobs/${encodeURIComponent(j.id)}`));
        } catch {
          jobs.delete(j.id);
        }
      }
      tenants();
      recompute();
    },
  };
}
