// Fleet: regions → zones → supernodes → nodes. A heat map of GPU allocation (one cell per node, drawn on a
// canvas so 12,500 nodes draw in one pass), the regions' totals, and the nodes that are cordoned, down or
// have GPUs out of service. Click a cell for the node: its GPUs and jobs (a tenant sees only its own jobs).
import { call } from '../api';
import { clear, h, table } from '../dom';
import type { View, ViewContext } from './view';

export interface NodeRow {
  name: string;
  accelerator: string;
  gpus: number;
  gpus_free: number;
  up: boolean;
  state: string;
  unhealthy_gpus: number[];
  region: string;
  zone?: string;
  supernode?: string;
  hold?: { reason: string; by: string; since_s: number };
}

// px per node, gap included: large for a lab, small enough for 12,500 nodes on one screen.
const cellFor = (nodes: number) => (nodes <= 200 ? 22 : nodes <= 2000 ? 12 : 7);
const HEAD = 18; // px for a group's label

interface Group {
  label: string;
  nodes: NodeRow[];
}

// Nodes grouped by region and zone, in supernode order within a zone (a supernode's nodes sit together).
export function groups(nodes: NodeRow[]): Group[] {
  const by = new Map<string, NodeRow[]>();
  for (const n of nodes) {
    const k = `${n.region} / ${n.zone ?? ''}`;
    let g = by.get(k);
    if (!g) by.set(k, (g = []));
    g.push(n);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, ns]) => ({
      label,
      nodes: ns.sort((a, b) => (a.supernode ?? '').localeCompare(b.supernode ?? '') || a.name.localeCompare(b.name)),
    }));
}

function colour(n: NodeRow): string {
  if (n.state === 'down') return '#1f1f1f';
  if (n.gpus === 0) return '#d9d9d9';
  const used = Math.max(0, Math.min(1, 1 - n.gpus_free / n.gpus));
  // white-ish (idle) → deep blue (full)
  const l = Math.round(92 - used * 62);
  return `hsl(215 70% ${l}%)`;
}

export function fleetView(ctx: ViewContext): View {
  let root: HTMLElement;
  let canvas: HTMLCanvasElement;
  let summary: HTMLElement, held: HTMLElement, detail: HTMLElement, tip: HTMLElement;
  let layout: { x: number; y: number; n: NodeRow }[] = [];
  let width = 0;
  let CELL = 7;

  function draw(nodes: NodeRow[]): void {
    const gs = groups(nodes);
    CELL = cellFor(nodes.length);
    width = Math.max(320, Math.min(1400, root.clientWidth || 1000));
    const perRow = Math.max(1, Math.floor(width / CELL));
    let height = 0;
    for (const g of gs) height += HEAD + Math.ceil(g.nodes.length / perRow) * CELL + 6;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = width * dpr;
    canvas.height = height * dpr;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const c = canvas.getContext('2d')!;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, width, height);
    c.font = '12px system-ui, sans-serif';
    layout = [];
    let y = 0;
    for (const g of gs) {
      c.fillStyle = '#222';
      c.fillText(`${g.label} · ${g.nodes.length} nodes`, 0, y + 13);
      y += HEAD;
      g.nodes.forEach((n, i) => {
        const x = (i % perRow) * CELL;
        const yy = y + Math.floor(i / perRow) * CELL;
        c.fillStyle = colour(n);
        c.fillRect(x, yy, CELL - 1, CELL - 1);
        if (n.state === 'cordoned') {
          c.strokeStyle = '#b36b00';
          c.strokeRect(x + 0.5, yy + 0.5, CELL - 2, CELL - 2);
        }
        if (n.unhealthy_gpus.length > 0) {
          c.fillStyle = '#c62828';
          c.fillRect(x + CELL - 4, yy, 3, 3);
        }
        layout.push({ x, y: yy, n });
      });
      y += Math.ceil(g.nodes.length / perRow) * CELL + 6;
    }
  }

  function at(ev: MouseEvent): NodeRow | undefined {
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    return layout.find((l) => x >= l.x && x < l.x + CELL && y >= l.y && y < l.y + CELL)?.n;
  }

  function fill(nodes: NodeRow[]): void {
    performance.mark('awan:fleet:start');
    const regions = new Map<string, { nodes: number; gpus: number; free: number; cordoned: number; down: number; unhealthy: number }>();
    for (const n of nodes) {
      let r = regions.get(n.region);
      if (!r) regions.set(n.region, (r = { nodes: 0, gpus: 0, free: 0, cordoned: 0, down: 0, unhealthy: 0 }));
      r.nodes++;
      r.gpus += n.gpus;
      r.free += n.gpus_free;
      if (n.state === 'cordoned') r.cordoned++;
      if (n.state === 'down') r.down++;
      r.unhealthy += n.unhealthy_gpus.length;
    }
    const total = [...regions.values()].reduce((a, r) => a + r.gpus, 0);
    const free = [...regions.values()].reduce((a, r) => a + r.free, 0);
    canvas.setAttribute(
      'aria-label',
      `GPU allocation heat map: ${nodes.length} nodes, ${total} GPUs, ${(total - free).toFixed(1)} allocated`,
    );
    clear(summary);
    summary.appendChild(
      table(
        'Regions',
        ['Region', 'Nodes', 'GPUs', 'Allocated', 'Cordoned', 'Down', 'GPUs out of service'],
        [...regions.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, r]) => [
            name,
            r.nodes,
            r.gpus,
            `${(r.gpus - r.free).toFixed(1)} (${r.gpus ? Math.round((100 * (r.gpus - r.free)) / r.gpus) : 0} %)`,
            r.cordoned,
            r.down,
            r.unhealthy,
          ]),
      ),
    );
    const odd = nodes.filter((n) => n.state !== 'ready' || n.unhealthy_gpus.length > 0);
    clear(held);
    held.appendChild(
      table(
        odd.length > 200 ? `Nodes not ready (first 200 of ${odd.length})` : `Nodes not ready (${odd.length})`,
        ['Node', 'Region', 'State', 'GPUs out of service', 'Reason', 'By'],
        odd
          .slice(0, 200)
          .map((n) => [n.name, n.region, n.state, n.unhealthy_gpus.join(', '), n.hold?.reason ?? '', n.hold?.by ?? '']),
      ),
    );
    draw(nodes);
    performance.measure('awan:fleet', 'awan:fleet:start');
  }

  async function showNode(name: string): Promise<void> {
    const n = await call(`/v1/nodes/${encodeURIComponent(name)}`);
    clear(detail);
    const actions =
      ctx.who.role === 'admin'
        ? h(
            'div',
            { class: 'actions' },
            ...['cordon', 'drain', 'uncordon'].map((a) =>
              h(
                'button',
                {
                  type: 'button',
                  onclick: async () => {
                    await call(`/v1/nodes/${encodeURIComponent(name)}/${a}`, {
                      method: 'POST',
                      body: { reason: `${a} from the dashboard` },
                    });
                    await showNode(name);
                  },
                },
                a,
              ),
            ),
          )
        : '';
    detail.append(
      h('h2', {}, `Node ${n.name}`),
      h('p', {}, `${n.region} / ${n.zone ?? ''} · ${n.gpus} × ${n.accelerator || 'CPU only'} · ${n.state}`),
      n.hold ? h('p', {}, `Hold: ${n.hold.reason} (by ${n.hold.by || 'the diagnosis'})`) : '',
      table(
        'GPUs',
        ['GPU', 'Free', 'Healthy'],
        (n.devices ?? []).map((d: any) => [d.index, d.free, d.healthy ? 'yes' : 'no']),
      ),
      h(
        'p',
        {},
        'Jobs here: ',
        ...(n.jobs ?? []).flatMap((j: string, i: number) => [i ? ', ' : '', h('a', { href: `#/jobs/${j}` }, j)]),
        (n.jobs ?? []).length ? '' : 'none you can see',
      ),
      actions,
    );
  }

  return {
    title: 'Fleet',
    every_ms: 5000,
    async render(el) {
      root = el;
      canvas = h('canvas', { role: 'img', tabindex: 0 });
      tip = h('p', { class: 'tip', 'aria-live': 'off' }, 'Point at a node for its name; click it for details.');
      canvas.addEventListener('mousemove', (ev) => {
        const n = at(ev);
        tip.textContent = n
          ? `${n.name}: ${n.gpus - n.gpus_free} of ${n.gpus} GPUs allocated, ${n.state}` +
            (n.unhealthy_gpus.length ? `, GPUs ${n.unhealthy_gpus.join(', ')} out of service` : '')
          : '';
      });
      canvas.addEventListener('click', (ev) => {
        const n = at(ev);
        if (n) void showNode(n.name);
      });
      summary = h('section', { 'aria-label': 'Regions' });
      held = h('section', { 'aria-label': 'Nodes not ready' });
      detail = h('section', { class: 'detail', 'aria-label': 'Node' });
      el.append(
        h('h1', {}, 'Fleet'),
        h(
          'p',
          { class: 'legend' },
          h('span', { class: 'swatch idle' }),
          'idle ',
          h('span', { class: 'swatch full' }),
          'all GPUs allocated ',
          h('span', { class: 'swatch cordoned' }),
          'cordoned ',
          h('span', { class: 'swatch down' }),
          'down ',
          h('span', { class: 'swatch unhealthy' }),
          'a GPU out of service',
        ),
        summary,
        h('section', { 'aria-label': 'Heat map' }, canvas, tip),
        detail,
        held,
      );
      await this.refresh!();
    },
    async refresh() {
      const r = await call('/v1/nodes');
      fill(r.items as NodeRow[]);
      ctx.status(`${r.items.length} nodes`);
    },
  };
}
