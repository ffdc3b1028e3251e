// UI performance in Chromium (Performance API): the fleet view with 12,500 nodes and the job list with 50,000
// jobs, rendered from scratch, then live updates. The page and its code are the real ones, served by a real
// `awan serve`; the API answers are generated here (page.route) in the API's own shapes, so the fleet and
// the job list can be that large without a fleet file and 50,000 submissions. Not a test: figures go to
// docs/benchmarks.md.   node web/bench/ui-bench.mjs [--runs 5] [--json OUT]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, repo, startServer } from '../tests/serve.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(arg('--runs', '5'));
const NODES = 12500, JOBS = 50000, UPDATES = 10;
const STATES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled'];

function nodes(tick) {
  const out = [];
  for (let i = 0; i < NODES; ++i) {
    const region = `region-${i % 10}`;
    out.push({
      name: `node-${String(i).padStart(5, '0')}`, accelerator: 'H100', gpus: 8,
      gpus_free: (i * 7 + tick * 3) % 9, up: true, state: i % 997 === 0 ? 'cordoned' : 'ready',
      unhealthy_gpus: i % 1499 === 0 ? [3] : [], region, zone: `${region}-z${i % 3}`, supernode: `sn-${Math.floor(i / 18)}`,
    });
  }
  return { items: out };
}

const jobs = [];
const now = Date.now();
for (let i = 1; i <= JOBS; ++i) {
  const state = i > JOBS - 5000 ? (i % 2 ? 'Pending' : 'Running') : STATES[2 + (i % 3)];
  jobs.push({
    id: `j-${String(i).padStart(8, '0')}`, name: `train-${i % 977}-${i}`, tenant: `tenant-${i % 12}`, state,
    message: state === 'Pending' ? 'waiting: quota (tenant-3 uses 48 of 48 GPUs)' : '',
    created_ms: now - (JOBS - i) * 1000, updated_ms: now - (JOBS - i) * 500, runs: state === 'Pending' ? 0 : 1,
    restarts: 0, tasks: 1 + (i % 4), gpus: 8,
    placement: state === 'Running' ? [{ node: `node-${String(i % NODES).padStart(5, '0')}`, devices: '0-7', region: 'region-1' }] : [],
  });
}

function jobPage(url, tick) {
  const q = new URL(url).searchParams;
  let list = jobs;
  if (q.get('state')) list = list.filter((j) => j.state === q.get('state')).map((j) => ({ ...j, updated_ms: j.updated_ms + tick }));
  const after = q.get('after') ?? '';
  let start = 0;
  if (after) start = list.findIndex((j) => j.id > after);
  if (start < 0) return { items: [] };
  const items = list.slice(start, start + 1000);
  return start + 1000 < list.length ? { items, next: items[items.length - 1].id } : { items };
}

async function measure(browser, url, token, hash, ready) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  let tick = 0;
  await page.route('**/v1/**', (route) => {
    const u = route.request().url();
    const body = u.includes('/v1/whoami') ? { tenant: '', role: 'admin' }
      : u.includes('/v1/nodes') ? nodes(tick)
      : u.includes('/v1/jobs') ? jobPage(u, tick)
      : { items: [] };
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
  });
  await page.goto(`${url}/ui/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('nav');
  // Start from another view, so the one measured renders from scratch.
  await page.evaluate(() => (location.hash = '#/services'));
  await page.waitForSelector('h1:text("Services")');
  await page.evaluate(() => {
    performance.clearMeasures();
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  });
  const t0 = await page.evaluate((h) => {
    const t = performance.now();
    location.hash = h;
    return t;
  }, hash);
  await page.waitForFunction(ready, null, { timeout: 60000 });
  const render = await page.evaluate(() => performance.getEntriesByName('awan:render').at(-1)?.duration);
  const painted = await page.evaluate((t) => new Promise((r) => requestAnimationFrame(() => r(performance.now() - t))), t0);
  // Live updates: UPDATES refreshes with changed data; the main thread's work per update.
  const updates = [];
  for (let i = 0; i < UPDATES; ++i) {
    tick++;
    const n = await page.evaluate(() => performance.getEntriesByName('awan:update').length);
    await page.waitForFunction((k) => performance.getEntriesByName('awan:update').length > k, n, { timeout: 30000 });
  }
  const m = await page.evaluate(() => ({
    sync: [...performance.getEntriesByName('awan:fleet'), ...performance.getEntriesByName('awan:jobs:recompute')].map((e) => e.duration),
    long: window.__long,
  }));
  await context.close();
  return { render_ms: render, to_first_paint_ms: painted, update_main_thread_ms: m.sync.slice(-UPDATES), long_tasks_ms: m.long };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const server = await startServer(process.env.AWAN_BIN ?? join(repo, 'build/release/apps/awan'));
const browser = await launchChromium();
const out = { nodes: NODES, jobs: JOBS, runs: RUNS, fleet: [], jobs_list: [] };
try {
  for (let r = 0; r < RUNS; ++r) {
    out.fleet.push(await measure(browser, server.url, server.tokens.admin, '#/fleet', () => document.querySelector('canvas')?.getAttribute('aria-label')?.includes('12500 nodes')));
    out.jobs_list.push(await measure(browser, server.url, server.tokens.admin, '#/jobs', () => /50000 of 50000 jobs/.test(document.querySelector('.count')?.textContent ?? '')));
  }
} finally {
  await browser.close();
  await server.stop();
}
for (const [name, rs] of [['fleet (12,500 nodes)', out.fleet], ['jobs (50,000)', out.jobs_list]]) {
  const upd = rs.map((r) => Math.max(...r.update_main_thread_ms));
  console.log(`${name}: to first paint median ${median(rs.map((r) => r.to_first_paint_ms)).toFixed(0)} ms ` +
    `(render ${median(rs.map((r) => r.render_ms)).toFixed(0)} ms); live update, main thread: median of the worst per run ` +
    `${median(upd).toFixed(1)} ms; long tasks (≥ 50 ms) per run, render and updates: ${rs.map((r) => r.long_tasks_ms.length).join(', ')}`);
}
if (arg('--json')) writeFileSync(arg('--json'), JSON.stringify(out, null, 1));
