// Services: every inference service the caller may see, with its replicas and SLO attainment; one service's
// replicas and its autoscaler's decisions over time.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { call } from '../api';
import { clear, h, table, when } from '../dom';
import type { View, ViewContext } from './view';

export function servicesView(ctx: ViewContext): View {
  let list: HTMLElement, detail: HTMLElement;
  let selected = ''; // tenant/name, as the API takes it
  let plot: uPlot | null = null;

  async function showDetail(): Promise<void> {
    if (!selected) return;
    const s = await call(`/v1/services/${selected}`);
    plot?.destroy();
    plot = null;
    clear(detail);
    detail.append(
      h('h2', {}, `Service ${s.name}`),
      table(
        'Replicas',
        ['Job', 'State', 'Node', 'GPUs', 'In flight', 'Cold start', 'Image'],
        (s.replica_list ?? []).map((r: any) => [
          h('a', { href: `#/jobs/${r.job}` }, r.job),
          r.state,
          r.node,
          r.devices,
          r.in_flight,
          r.cold_start_ms ? `${(r.cold_start_ms / 1000).toFixed(1)} s` : '',
          r.image,
        ]),
      ),
    );
    const decisions: any[] = s.decisions ?? [];
    if (decisions.length > 0) {
      const box = h('div', { class: 'chart', role: 'img', 'aria-label': 'Replicas the autoscaler asked for over time' });
      detail.append(h('h3', {}, 'Autoscaler decisions'), box);
      const t = decisions.map((d) => d.at_ms / 1000);
      t.push(Date.now() / 1000);
      const n = decisions.map((d) => d.to);
      n.push(n[n.length - 1]);
      plot = new uPlot(
        {
          title: 'Replicas asked for',
          width: Math.min(900, Math.max(360, detail.clientWidth || 800)),
          height: 220,
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
          scales: {
            x: { time: true, range: (_u, min, max) => [Math.min(min, max - 300), max] },
            y: { range: (_u, _min, max) => [0, Math.max(1, max + 1)] },
          },
          axes: [{}, { label: 'replicas' }],
          series: [{ label: 'time (UTC)' }, { label: 'replicas', stroke: '#1f77b4', width: 2, paths: uPlot.paths.stepped!({ align: 1 }) }],
        },
        [t, n],
        box,
      );
      detail.append(
        table('Decisions (latest 20)', ['When', 'From', 'To', 'Why'], decisions.slice(-20).reverse().map((d) => [when(d.at_ms), d.from, d.to, d.why])),
      );
    }
  }

  return {
    title: 'Services',
    every_ms: 3000,
    async render(el) {
      list = h('section', { 'aria-label': 'Services' });
      detail = h('section', { class: 'detail', 'aria-label': 'Service' });
      el.append(h('h1', {}, 'Services'), list, detail);
      await this.refresh!();
    },
    async refresh() {
      const r = await call('/v1/services');
      clear(list);
      if (r.items.length === 0) {
        list.appendChild(h('p', {}, 'No services. Start one with awan service create FILE (docs/serve.md).'));
      } else {
        list.appendChild(
          table(
            'Services',
            ['Service', 'Tenant', 'Model', 'Ready', 'Starting', 'Min–max', 'Requests', 'SLO attainment', 'Autoscaler'],
            r.items.map((s: any) => [
              h('button', { type: 'button', class: 'link', onclick: () => ((selected = `${encodeURIComponent(s.tenant)}/${encodeURIComponent(s.name)}`), void showDetail()) }, s.name),
              s.tenant,
              s.model,
              s.replicas.ready,
              s.replicas.starting,
              `${s.replicas.min}–${s.replicas.max}`,
              s.requests,
              s.slo_attainment_pct === null ? '' : `${s.slo_attainment_pct.toFixed(1)} %`,
              s.autoscaler,
            ]),
          ),
        );
      }
      await showDetail();
      ctx.status(`${r.items.length} services`);
    },
    dispose() {
      plot?.destroy();
    },
  };
}
