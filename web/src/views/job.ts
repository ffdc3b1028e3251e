// One job: what it asked for, where its tasks run (nodes and GPUs), its timeline, why it waits with what
// would change that (the server's explain: counterfactuals computed on a copy of the scheduler), its
// diagnosis, and its logs, followed while it runs.
import { call, type Job } from '../api';
import { badge, clear, duration, h, table, when } from '../dom';
import type { View, ViewContext } from './view';

const LOG_LIMIT = 256 * 1024; // bytes of a task's log kept on the page (the end of it)

export function jobView(ctx: ViewContext, id: string): View {
  let head: HTMLElement, placement: HTMLElement, timeline: HTMLElement, explain: HTMLElement, diagnosis: HTMLElement;
  let logBox: HTMLPreElement, taskSelect: HTMLSelectElement;
  let job: Job | null = null;
  let logOffset = -1; // -1: start from the end of the log (its last 64 KiB)
  let logTask = 0;

  async function logs(): Promise<void> {
    if (!job || job.runs === 0) {
      logBox.textContent = 'No logs: the job has not started.';
      return;
    }
    const q = new URLSearchParams({ task: String(logTask), limit: String(64 * 1024) });
    if (logOffset >= 0) q.set('offset', String(logOffset));
    else q.set('offset', '-65536');
    let r;
    try {
      r = await call(`/v1/jobs/${encodeURIComponent(id)}/logs?${q}`, { text: true });
    } catch (err) {
      logBox.textContent = `No logs: ${(err as Error).message}`;
      return;
    }
    const start = Number(r.headers.get('X-Log-Offset') ?? 0);
    if (logOffset < 0) logBox.textContent = '';
    logOffset = start + new TextEncoder().encode(r.text).length;
    const stick = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
    logBox.textContent = (logBox.textContent + r.text).slice(-LOG_LIMIT);
    if (stick) logBox.scrollTop = logBox.scrollHeight;
  }

  // What the caller may do to the job now (members and admins): hold or release a waiting job, cancel a
  // waiting or running one.
  function actions(j: Job): HTMLElement | string {
    if (ctx.who.role === 'viewer' || (j.state !== 'Pending' && j.state !== 'Running')) return '';
    const act = (op: string, label: string) =>
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            try {
              await call(`/v1/jobs/${encodeURIComponent(j.id)}/${op}`, { method: 'POST' });
              job = await call(`/v1/jobs/${encodeURIComponent(id)}`);
              fill(job!);
              await explainIt();
            } catch (err) {
              ctx.status(`${label} failed: ${(err as Error).message}`);
            }
          },
        },
        label,
      );
    const held = j.state === 'Pending' && j.message.startsWith('held');
    return h(
      'div',
      { class: 'actions' },
      j.state === 'Pending' ? act(held ? 'release' : 'hold', held ? 'Release' : 'Hold') : '',
      act('cancel', 'Cancel'),
    );
  }

  function fill(j: Job): void {
    const now = Date.now();
    const spec = j.manifest?.spec ?? {};
    clear(head);
    head.append(
      h('h1', {}, `Job ${j.id} `, badge(j.state)),
      actions(j),
      table('Summary', ['Field', 'Value'], [
        ['Name', j.name],
        ['Tenant', j.user ? `${j.tenant} (submitted by ${j.user})` : j.tenant],
        ['State', j.state],
        [j.state === 'Pending' ? 'Waiting because' : 'Message', j.message],
        ['Resources', `${spec.tasks ?? 1} task(s) × ${spec.gpus ?? 0} GPU(s)${spec.accelerator ? ` (${spec.accelerator})` : ''}, ${spec.cpu ?? '?'} CPUs, ${spec.memory_gib ?? '?'} GiB`],
        ['Command', Array.isArray(spec.command) ? spec.command.join(' ') : (spec.image ?? '')],
        ['Runs', `${j.runs} (restarts: ${j.restarts})`],
        ['Exit code', j.exit_code ?? ''],
        ['Used', j.started_ms ? `${(j.gpu_hours ?? 0).toFixed(3)} GPU-hours, ${(j.cost_usd ?? 0).toFixed(2)} USD` : 'nothing yet'],
      ]),
    );
    clear(timeline);
    // The server's history of the job (where each run started, holds, priority changes, how it ended); a
    // job stored before the server kept one shows what its times say.
    const events: [number, string][] = j.events?.length ? j.events.map((e) => [e.t_ms, e.event]) : [[j.created_ms, 'submitted']];
    if (!j.events?.length) {
      if (j.started_ms) events.push([j.started_ms, 'first started']);
      if (j.state === 'Running') events.push([j.updated_ms, j.runs > 1 ? `running (run ${j.runs})` : 'started']);
      else if (j.state !== 'Pending') events.push([j.updated_ms, `${j.state.toLowerCase()}${j.exit_code !== undefined ? ` (exit ${j.exit_code})` : ''}`]);
    }
    timeline.append(
      h('h2', {}, 'Timeline'),
      h('ol', { class: 'timeline' }, ...events.map(([t, what]) => h('li', {}, h('time', {}, when(t, now)), ` ${what}`))),
      h('p', { class: 'muted' }, j.state === 'Pending' ? `waiting for ${duration(now - j.created_ms)}` : j.state === 'Running' ? `running for ${duration(now - j.updated_ms)}` : `took ${duration(j.updated_ms - j.created_ms)} from submission to end`),
    );
    clear(placement);
    placement.append(
      h('h2', {}, 'Tasks and GPUs'),
      j.placement.length
        ? table('Placement', ['Task', 'Node', 'GPUs', 'Region'], j.placement.map((p, i) => [i, h('a', { href: `#/fleet` }, p.node), p.devices, p.region]))
        : h('p', {}, 'Not placed.'),
    );
    if (taskSelect.options.length !== Math.max(1, j.placement.length)) {
      clear(taskSelect);
      for (let i = 0; i < Math.max(1, spec.tasks ?? 1); ++i) taskSelect.appendChild(h('option', { value: String(i) }, `task ${i}`));
      taskSelect.value = String(logTask);
    }
  }

  async function explainIt(): Promise<void> {
    clear(explain);
    explain.appendChild(h('h2', {}, 'Why it waits'));
    if (!job || job.state !== 'Pending') {
      explain.appendChild(h('p', {}, 'It does not wait.'));
      return;
    }
    try {
      const e = await call(`/v1/jobs/${encodeURIComponent(id)}/explain`);
      explain.append(
        h('p', { class: 'reason' }, `Reason: ${e.reason}`),
        h('ul', { class: 'blocking' }, ...e.blocking.map((b: string) => h('li', {}, b))),
        h('h3', {}, 'What would change it'),
        e.counterfactuals.length
          ? h('ul', { class: 'counterfactuals' }, ...e.counterfactuals.map((c: any) => h('li', {}, h('strong', {}, c.kind), `: ${c.text}`)))
          : h('p', {}, 'Nothing the server can try would start it sooner.'),
      );
    } catch (err) {
      explain.appendChild(h('p', { class: 'error' }, (err as Error).message));
    }
  }

  async function diagnose(): Promise<void> {
    clear(diagnosis);
    diagnosis.appendChild(h('h2', {}, 'Diagnosis'));
    try {
      const d = await call(`/v1/diagnoses?target=${encodeURIComponent(id)}`);
      const items: any[] = d.items ?? d.diagnoses ?? [];
      if (items.length === 0) diagnosis.appendChild(h('p', {}, 'Nothing diagnosed for this job.'));
      for (const x of items.slice(0, 20))
        diagnosis.appendChild(h("p", {}, h("strong", {}, x.scenario), ` ${x.title}: ${x.root_cause} What to do: ${x.action}`));
    } catch (err) {
      diagnosis.appendChild(h('p', { class: 'muted' }, (err as Error).message));
    }
  }

  return {
    title: `Job ${id}`,
    every_ms: 2000,
    async render(el) {
      head = h('section', {});
      timeline = h('section', { 'aria-label': 'Timeline' });
      placement = h('section', { 'aria-label': 'Tasks and GPUs' });
      explain = h('section', { class: 'explain', 'aria-label': 'Why it waits' });
      diagnosis = h('section', { 'aria-label': 'Diagnosis' });
      taskSelect = h('select', { id: 'log-task' });
      taskSelect.addEventListener('change', () => {
        logTask = Number(taskSelect.value);
        logOffset = -1;
        void logs();
      });
      logBox = h('pre', { class: 'logs', tabindex: 0, 'aria-label': 'Log' });
      el.append(
        h('p', {}, h('a', { href: '#/jobs' }, '← all jobs')),
        head,
        timeline,
        placement,
        explain,
        diagnosis,
        h('section', { 'aria-label': 'Logs' }, h('h2', {}, 'Logs'), h('label', { for: 'log-task' }, 'Task '), taskSelect, logBox),
      );
      job = await call(`/v1/jobs/${encodeURIComponent(id)}`);
      fill(job!);
      await Promise.all([explainIt(), diagnose(), logs()]);
    },
    async refresh() {
      const before = job?.state;
      job = await call(`/v1/jobs/${encodeURIComponent(id)}`);
      fill(job!);
      if (job!.state !== before || job!.state === 'Pending') await explainIt();
      if (job!.state === 'Running' || job!.state !== before) await logs();
      ctx.status(`job ${id}: ${job!.state}`);
    },
  };
}
