// A real `awan serve` on 127.0.0.1 for the browser tests: a fresh SQLite store, tokens for an admin and two
// tenants, the ASEAN example fleet, tasks as local processes. Stopped (SIGTERM, then SIGKILL) by stop().
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '../..');

export async function startServer(awan) {
  const dir = mkdtempSync(join(tmpdir(), 'awan-ui-'));
  const store = `sqlite:${dir}/awan.db`;
  execFileSync(awan, ['init', '--store', store], { stdio: 'ignore' });
  const token = (...args) =>
    execFileSync(awan, ['token', 'create', '--store', store, ...args], { encoding: 'utf8' }).trim().split('\n').pop();
  const tokens = {
    admin: token('--role', 'admin'),
    uni: token('--tenant', 'my-university', '--role', 'member'),
    startup: token('--tenant', 'my-startup', '--role', 'member'),
  };
  const args = ['serve', '--store', store, '--listen', '127.0.0.1:0', '--fleet', join(repo, 'examples/fleets/asean.yaml'), '--state-dir', join(dir, 'state')];
  if (process.getuid && process.getuid() !== 0) args.push('--unsandboxed-tasks');
  const proc = spawn(awan, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const url = await new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`awan serve did not start in 30 s:\n${log}`)), 30000);
    const look = () => {
      const m = log.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(t);
        ok(m[1]);
      } else setTimeout(look, 50);
    };
    proc.on('exit', (c) => fail(new Error(`awan serve exited (${c}):\n${log}`)));
    look();
  });
  for (let i = 0; i < 100; ++i) {
    const r = await fetch(`${url}/v1/readyz`).catch(() => null);
    if (r?.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async (who, method, path, body) => {
    const r = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${tokens[who]}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const stop = async () => {
    proc.kill('SIGTERM');
    await new Promise((ok) => {
      const t = setTimeout(() => (proc.kill('SIGKILL'), ok()), 10000);
      proc.on('exit', () => (clearTimeout(t), ok()));
      if (proc.exitCode !== null) ok();
    });
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, tokens, api, stop, log: () => log, readExample: (p) => readFileSync(join(repo, p), 'utf8') };
}

// Debian's Chromium through playwright-core, headless, with nothing that calls out of this machine.
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.AWAN_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
