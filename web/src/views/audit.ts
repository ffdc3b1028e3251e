// Audit (admins): the latest entries of the hash-chained log, each placement with the residency rules that
// allowed it, and the server's check of the whole chain.
import { call } from '../api';
import { clear, h, table } from '../dom';
import type { View, ViewContext } from './view';

const KEEP = 500;

export function auditView(ctx: ViewContext): View {
  let verdict: HTMLElement, entries: HTMLElement;
  let last: any[] = [];
  let after = 0;

  function rules(e: any): string {
    if (e.action) return `${e.action.kind} ${e.action.node}${e.action.job ? ` (${e.action.job})` : ''}: ${e.action.reason}`;
    const rs = (e.rules ?? []).map((r: any) => `${r.data} (${r.class}${r.jurisdictions?.length ? `, ${r.jurisdictions.join('/')}` : ''})`);
    return `${rs.length ? rs.join('; ') : 'no residency rule'} → allowed ${(e.allowed_regions ?? []).join(', ') || 'everywhere'}`;
  }

  // The whole chain is checked by the server: when the view opens and on request, not at every refresh (it
  // reads the whole log).
  let verified = false;
  async function verify(): Promise<void> {
    const v = await call('/v1/audit/verify');
    verified = true;
    clear(verdict);
    verdict.append(
      v.ok
        ? h('p', { class: 'ok' }, `Chain verified: ${v.entries} entries, head ${v.head}`)
        : h('p', { class: 'error', role: 'alert' }, `Chain broken: ${v.error}`),
      h('button', { type: 'button', onclick: () => void verify() }, 'Verify again'),
    );
  }

  return {
    title: 'Audit',
    every_ms: 5000,
    async render(el) {
      verdict = h('section', { 'aria-label': 'Chain', class: 'verdict' });
      entries = h('section', { 'aria-label': 'Entries' });
      el.append(h('h1', {}, 'Audit'), verdict, entries);
      await this.refresh!();
    },
    async refresh() {
      for (;;) {
        const r = await call(`/v1/audit?after=${after}&limit=10000`, { text: true });
        const lines = r.text.split('\n').filter((l: string) => l);
        for (const l of lines) last.push(JSON.parse(l));
        if (last.length > KEEP) last = last.slice(-KEEP);
        if (lines.length > 0) after = last[last.length - 1].seq;
        if (lines.length < 10000) break;
      }
      if (!verified) await verify();
      clear(entries);
      entries.appendChild(
        table(
          `Latest entries (${Math.min(last.length, KEEP)})`,
          ['Seq', 'Time (s)', 'Job / action', 'Tenant', 'Where', 'Allowed by'],
          [...last].reverse().map((e) => [
            e.seq,
            e.t_s,
            e.action ? e.action.kind : `${e.job} run ${e.run}`,
            e.tenant ?? '',
            e.action ? e.action.node : [...new Set((e.tasks ?? []).map((t: any) => `${t.node} (${t.region})`))].join(', '),
            rules(e),
          ]),
        ),
      );
      ctx.status(`${after} audit entries`);
    },
  };
}
