// Queues per tenant: guarantee, used, borrowed, lent, waiting and running, and their history (used GPUs and
// waiting jobs per tenant over the last hour, from the server's samples).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { call } from '../api';
import { clear, h, table } from '../dom';
import type { View, ViewContext } from './view';

export interface TenantRow {
  name: string;
  cohort: string;
  guaranteed_gpus: number;
  gpus_allocated: number;
  jobs_waiting: number;
  running?: number;
  borrowed?: number;
  lent?: number;
}

// Borrowed: GPUs used above the guarantee. Lent: the part of a tenant's idle guarantee that its cohort's
// borrowers use, shared among the cohort's lenders in proportion to their idle guarantee.
export function lending(rows: TenantRow[]): TenantRow[] {
  const cohorts = new Map<string, TenantRow[]>();
  for (const r of rows) {
    r.borrowed = Math.max(0, r.gpus_allocated - r.guaranteed_gpus);
    const key = r.cohort || `(alone) ${r.name}`;
    cohorts.set(key, [...(cohorts.get(key) ?? []), r]);
  }
  for (const members of cohorts.values()) {
    const borrowed = members.reduce((a, r) => a + (r.borrowed ?? 0), 0);
    const idle = members.reduce((a, r) => a + Math.max(0, r.guaranteed_gpus - r.gpus_allocated), 0);
    for (const r of members) {
      const mine = Math.max(0, r.guaranteed_gpus - r.gpus_allocated);
      r.lent = idle > 0 ? Math.min(mine, (borrowed * mine) / idle) : 0;
    }
  }
  return rows;
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export function queuesView(ctx: ViewContext): View {
  let tables: HTMLElement, chartBox: HTMLElement;
  let plot: uPlot | null = null;
  let plotTenants = '';

  function chart(history: { t_s: number[]; tenants: { name: string; gpus: number[]; waiting: number[] }[] }) {
    const key = history.tenants.map((t) => t.name).join(',');
    const data: uPlot.AlignedData = [history.t_s, ...history.tenants.map((t) => t.gpus)];
    if (plot && key === plotTenants) return plot.setData(data);
    plot?.destroy();
    clear(chartBox);
    plotTenants = key;
    plot = new uPlot(
      {
        title: 'GPUs used per tenant (last hour)',
        width: Math.min(1000, Math.max(360, chartBox.clientWidth || 800)),
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        // The last hour, whatever the samples cover (a server that just started has one).
        scales: {
          x: { time: true, range: (_u, _min, max) => [max - 3600, max] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: [{}, { label: 'GPUs used' }],
        series: [
          { label: 'time (UTC)' },
          ...history.tenants.map((t, i) => ({ label: t.name, stroke: COLOURS[i % COLOURS.length], width: 2 })),
        ],
      },
      data,
      chartBox,
    );
  }

  return {
    title: 'Queues',
    every_ms: 5000,
    async render(el) {
      tables = h('section', { 'aria-label': 'Tenants' });
      chartBox = h('section', { class: 'chart', 'aria-label': 'History' });
      el.append(h('h1', {}, 'Queues'), tables, chartBox);
      await this.refresh!();
    },
    async refresh() {
      const [tenants, queues, history] = await Promise.all([
        call('/v1/tenants'),
        call('/v1/queues'),
        call('/v1/queues/history'),
      ]);
      const running = new Map<string, number>(queues.items.map((q: any) => [q.tenant, q.running.length]));
      const rows = lending(tenants.items as TenantRow[]);
      clear(tables);
      tables.appendChild(
        table(
          'Tenants',
          ['Tenant', 'Cohort', 'Guarantee (GPUs)', 'Used', 'Borrowed', 'Lent', 'Waiting jobs', 'Running jobs'],
          rows.map((r) => [
            r.name,
            r.cohort,
            r.guaranteed_gpus,
            r.gpus_allocated.toFixed(1),
            (r.borrowed ?? 0).toFixed(1),
            (r.lent ?? 0).toFixed(1),
            r.jobs_waiting,
            running.get(r.name) ?? 0,
          ]),
        ),
      );
      if (history.t_s.length > 0) chart(history);
      else chartBox.textContent = 'No history yet: the server samples the queues every 10 s.';
      ctx.status(`${rows.length} tenants`);
    },
    dispose() {
      plot?.destroy();
    },
  };
}
