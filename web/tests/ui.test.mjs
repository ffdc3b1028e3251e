// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real `awan serve` on
// 127.0.0.1: log in, every view shows the server's live data, a pending job shows its reason and
// counterfactuals, a tenant never sees another tenant's objects (on the page or in any API answer the page
// gets), nothing from the server runs as markup, and axe-core finds no serious or critical accessibility
// violation. Screenshots go to $AWAN_UI_SCREENSHOTS (default: out/ui-screenshots).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium, repo, startServer } from './serve.mjs';

const AWAN = process.env.AWAN_BIN ?? join(repo, 'build/release/apps/awan');
const SHOTS = process.env.AWAN_UI_SCREENSHOTS ?? join(repo, 'out/ui-screenshots');
const AXE = readFileSync(join(repo, 'web/node_modules/axe-core/axe.min.js'), 'utf8');

let server, browser;
const ids = {};

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer(AWAN);
  const job = (name, tenant, spec) => ({ apiVersion: 'awan/v1', kind: 'Job', metadata: { name, tenant }, spec });
  // Runs: a task whose output is markup (it must show as text).
  ids.running = (
    await server.api('uni', 'POST', '/v1/jobs', job('uni-notebook', 'my-university', {
      gpus: 1, cpu: 4, memory_gib: 8, duration_s: 600,
      command: ['sh', '-c', 'echo "<img src=x onerror=window.__xss=1>"; echo step-1; sleep 120'],
    }))
  ).id;
  // Waits: more GPUs than the fleet's Malaysian regions hold, for data that must stay in Malaysia.
  ids.pending = (
    await server.api('uni', 'POST', '/v1/jobs', job('uni-huge-gang', 'my-university', {
      tasks: 16, gpus: 8, cpu: 8, memory_gib: 64, duration_s: 3600, reads: ['my-university-data'],
      command: ['sleep', '1'],
    }))
  ).id;
  ids.startup = (
    await server.api('startup', 'POST', '/v1/jobs', job('startup-secret-run', 'my-startup', {
      gpus: 2, cpu: 4, memory_gib: 8, duration_s: 600, command: ['sleep', '120'],
    }))
  ).id;
  await server.api('uni', 'POST', '/v1/services', server.readExample('examples/services/chat-service.yaml'));
  // The running job is placed and logging before the browser looks.
  for (let i = 0; i < 100; ++i) {
    const j = await server.api('uni', 'GET', `/v1/jobs/${ids.running}`);
    if (j.state === 'Running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// A page logged in with `who`'s token; every API answer it gets is kept (for the isolation checks).
async function login(who) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const answers = [];
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', async (r) => {
    if (!r.url().includes('/v1/')) return;
    try {
      answers.push({ url: r.url(), status: r.status(), body: await r.text() });
    } catch {
      /* a body the page did not wait for */
    }
  });
  await page.goto(`${server.url}/ui/`);
  await page.getByLabel('API token').fill(server.tokens[who]);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('nav a[aria-current="page"]');
  return { page, context, answers, errors };
}

// axe-core on the current page: no serious or critical violation. (The page's policy forbids injected
// scripts, so axe runs in a context that bypasses it; the page under test is the same.)
async function accessible(page, name) {
  const r = await page.evaluate(async (src) => {
    // eslint-disable-next-line no-new-func
    new Function(src)();
    return window.axe.run(document, { resultTypes: ['violations'] });
  }, AXE);
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes, e.g. ${v.nodes[0]?.html})`),
    [],
    `accessibility of ${name}`,
  );
}

async function view(page, hash, ready, shot) {
  await page.goto(`${server.url}/ui/#/${hash}`);
  await page.waitForFunction(ready, null, { timeout: 15000 });
  await page.screenshot({ path: join(SHOTS, `${shot}.png`), fullPage: true });
}

test('an unauthenticated visitor gets the login form, and a wrong token is refused', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/ui/`);
  await page.getByLabel('API token').fill('awan_' + '0'.repeat(64));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Not logged in' }).waitFor();
  assert.equal(await page.locator('nav').count(), 0);
  const r = await fetch(`${server.url}/v1/jobs`);
  assert.equal(r.status, 401);
  const headers = (await fetch(`${server.url}/ui/`)).headers;
  assert.match(headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(headers.get('x-frame-options'), 'DENY');
  await context.close();
});

test('an admin sees every view with live data', { bypassCSP: true }, async () => {
  const { page, context, errors } = await login('admin');
  await context.close();
  const admin = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
  const p = await admin.newPage();
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${server.url}/ui/`);
  await p.getByLabel('API token').fill(server.tokens.admin);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.waitForSelector('nav a[aria-current="page"]');

  await view(p, 'fleet', () => document.querySelectorAll('caption').length >= 2 && document.querySelector('canvas')?.getAttribute('aria-label')?.includes('nodes'), 'fleet');
  const regions = await p.locator('section[aria-label="Regions"] tbody tr').count();
  assert.equal(regions, 6, 'one row per region of the ASEAN fleet');
  assert.match(await p.locator('canvas').getAttribute('aria-label'), /allocated/);
  await accessible(p, 'fleet');

  await view(p, 'queues', () => document.querySelectorAll('section[aria-label="Tenants"] tbody tr').length > 0, 'queues');
  const uni = await p.locator('section[aria-label="Tenants"] tbody tr', { hasText: 'my-university' }).innerText();
  assert.match(uni, /my-university\s+asean\s+48\s+2\.0\s+0\.0\s+0\.0\s+1\s+2/, 'guarantee 48; the notebook and the service replica run, on 2 GPUs; the gang waits');
  await p.waitForSelector('.uplot', { timeout: 15000 });
  await accessible(p, 'queues');

  await view(p, 'jobs', () => document.querySelectorAll('table.jobs tbody tr[data-id]').length >= 4, 'jobs');
  assert.equal(await p.locator('table.jobs tbody tr[data-id]').count(), 4, 'three jobs and the service replica');
  await p.getByLabel('Filter').fill('startup');
  await p.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr[data-id]').length === 1);
  await p.getByLabel('Filter').fill('');
  await p.getByLabel('State').selectOption('Pending');
  await p.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr[data-id]').length === 1);
  assert.match(await p.locator('table.jobs tbody tr[data-id]').innerText(), /uni-huge-gang/);
  await accessible(p, 'jobs');

  await view(p, 'services', () => document.querySelector('section[aria-label="Services"] tbody tr') !== null, 'services');
  assert.match(await p.locator('section[aria-label="Services"] tbody').innerText(), /chat\s+my-university\s+llama-3\.1-8b/);
  await p.getByRole('button', { name: 'chat' }).click();
  await p.waitForSelector('section[aria-label="Service"] caption');
  await accessible(p, 'services');

  await view(p, 'cost', () => document.querySelector('table.cost caption') !== null, 'cost');
  assert.match(await p.locator('table.cost tbody').innerText(), /my-university\s+my-/, 'the notebook runs in Malaysia');
  await accessible(p, 'cost');

  await view(p, 'audit', () => document.querySelector('.verdict p') !== null && document.querySelectorAll('section[aria-label="Entries"] tbody tr').length > 0, 'audit');
  assert.match(await p.locator('.verdict').innerText(), /Chain verified: \d+ entries/);
  assert.match(await p.locator('section[aria-label="Entries"] tbody').innerText(), new RegExp(ids.running));
  await accessible(p, 'audit');
  assert.deepEqual(errors, []);
  await admin.close();
});

test('a pending job shows its reason and what would change it; a running job its tasks and logs', async () => {
  const { page, context, errors } = await login('uni');
  await view(page, `jobs/${ids.pending}`, () => document.querySelector('ul.counterfactuals li') !== null, 'job-pending');
  assert.match(await page.locator('.reason').innerText(), /Reason: \w+/);
  assert.ok((await page.locator('ul.counterfactuals li').count()) >= 1);
  assert.match(await page.locator('ul.counterfactuals').innerText(), /fewer_gpus|wait|lend_quota|borrow_limit|reclassify/);
  // Hold it from the page: it says so; release it again.
  await page.getByRole('button', { name: 'Hold' }).click();
  await page.getByRole('button', { name: 'Release' }).waitFor();
  assert.match(await page.locator('section table').first().innerText(), /held/);
  await page.getByRole('button', { name: 'Release' }).click();
  await page.getByRole('button', { name: 'Hold' }).waitFor();
  // Its history: the hold and the release, and who asked.
  await page.waitForFunction(() => /released by/.test(document.querySelector('section[aria-label="Timeline"]')?.textContent ?? ''));
  assert.match(await page.locator('section[aria-label="Timeline"]').innerText(), /submitted by[^\n]*\n[\s\S]*held by[\s\S]*released by/);

  await view(page, `jobs/${ids.running}`, () => (document.querySelector('pre.logs')?.textContent ?? '').includes('step-1'), 'job-running');
  assert.match(await page.locator('pre.logs').innerText(), /<img src=x onerror=window.__xss=1>/, 'markup shown as text');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'nothing from the server ran');
  assert.match(await page.locator('section[aria-label="Tasks and GPUs"] tbody').innerText(), /my-|sg-|id-|th-/);
  assert.match(await page.locator('section[aria-label="Timeline"]').innerText(), /Running: run 1 started on \S+ \(/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a tenant sees only its own objects, on the page and in every answer the page gets', async () => {
  const { page, context, answers, errors } = await login('startup');
  assert.equal(await page.locator('nav a', { hasText: 'Audit' }).count(), 0, 'no audit view for a tenant');
  await view(page, 'jobs', () => document.querySelectorAll('table.jobs tbody tr[data-id]').length >= 1, 'tenant-jobs');
  assert.equal(await page.locator('table.jobs tbody tr[data-id]').count(), 1);
  await view(page, 'queues', () => document.querySelectorAll('section[aria-label="Tenants"] tbody tr').length > 0, 'tenant-queues');
  assert.equal(await page.locator('section[aria-label="Tenants"] tbody tr').count(), 1);
  await view(page, 'services', () => document.querySelector('section[aria-label="Services"] p, section[aria-label="Services"] table') !== null, 'tenant-services');
  await view(page, 'fleet', () => document.querySelectorAll('caption').length >= 2, 'tenant-fleet');
  await view(page, 'cost', () => document.querySelector('table.cost caption') !== null, 'tenant-cost');
  assert.equal(await page.locator('table.cost tbody tr').count(), 1, 'its own row only');
  // Another tenant's job, asked for by its id: absent.
  await view(page, `jobs/${ids.running}`, () => document.querySelector('main .error') !== null, 'tenant-foreign-job');
  assert.match(await page.locator('main .error').innerText(), /no job|not found/i);
  await page.goto(`${server.url}/ui/#/audit`);
  await page.waitForSelector('nav');
  const seen = answers.map((a) => a.body).join('\n');
  for (const secret of ['my-university', 'uni-notebook', 'uni-huge-gang', 'llama-3.1-8b', ids.running, ids.pending]) {
    // (the answer to a request that named the id itself may repeat it: "no job j-…")
    const leaks = answers.filter((a) => !a.url.includes(secret) && a.body.includes(secret));
    assert.deepEqual(leaks.map((a) => a.url), [], `a my-startup page got "${secret}" from the API`);
  }
  assert.ok(seen.includes(ids.startup), 'its own job came back');
  assert.deepEqual(errors, []);
  await context.close();
});
