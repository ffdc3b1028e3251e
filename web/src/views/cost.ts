// Cost: GPU-hours and cost per tenant and region (the server's accounting: every run of every job, priced at
// its nodes' price per GPU-hour; running jobs up to now), over a chosen window, with a bar per row.
import { call } from '../api';
import { clear, h } from '../dom';
import type { View, ViewContext } from './view';

const WINDOWS: [string, number][] = [
  ['last hour', 3600],
  ['last day', 86400],
  ['last 7 days', 7 * 86400],
  ['last 30 days', 30 * 86400],
  ['all time', 0],
];

export function costView(ctx: ViewContext): View {
  let box: HTMLElement;
  let windowS = 0;

  return {
    title: 'Cost',
    every_ms: 60000,  // the server reads every job for it
    async render(el) {
      const select = h('select', { id: 'cost-window' }, ...WINDOWS.map(([label, s]) => h('option', { value: String(s) }, label)));
      select.value = '0';
      select.addEventListener('change', () => {
        windowS = Number(select.value);
        void this.refresh!();
      });
      box = h('section', { 'aria-label': 'Cost per tenant and region' });
      el.append(h('h1', {}, 'Cost'), h('p', {}, h('label', { for: 'cost-window' }, 'Jobs that ran in the '), select), box);
      await this.refresh!();
    },
    async refresh() {
      const since = windowS > 0 ? Date.now() - windowS * 1000 : 0;
      const r = await call(`/v1/usage?since_ms=${since}`);
      const rows: any[] = r.items;
      const max = Math.max(1e-9, ...rows.map((x) => x.cost_usd));
      const total = rows.reduce((a, x) => a + x.cost_usd, 0);
      const hours = rows.reduce((a, x) => a + x.gpu_hours, 0);
      clear(box);
      if (rows.length === 0) {
        box.appendChild(h('p', {}, 'No job ran in this window.'));
        return;
      }
      const bar = (v: number) => {
        const b = h('span', { class: 'bar', 'aria-hidden': 'true' });
        b.style.width = `${Math.round((160 * v) / max)}px`;
        return b;
      };
      box.appendChild(
        h(
          'table',
          { class: 'cost' },
          h('caption', {}, `Cost per tenant and region: ${hours.toFixed(2)} GPU-hours, ${total.toFixed(2)} USD in all`),
          h('thead', {}, h('tr', {}, ...['Tenant', 'Region', 'Jobs', 'GPU-hours', 'Cost (USD)', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            {},
            ...rows
              .sort((a, b) => b.cost_usd - a.cost_usd)
              .map((x) =>
                h('tr', {}, h('td', {}, x.tenant), h('td', {}, x.region), h('td', {}, x.jobs), h('td', {}, x.gpu_hours.toFixed(3)), h('td', {}, x.cost_usd.toFixed(2)), h('td', {}, bar(x.cost_usd))),
              ),
          ),
        ),
      );
      ctx.status(`${rows.length} tenant-region rows`);
    },
  };
}
