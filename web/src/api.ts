// The dashboard's only way to the server: the same REST API as the CLI (docs/serve.md), with the token the
// user logged in with. The token lives in this tab's sessionStorage (gone when the tab closes), never in a
// cookie, so another site can't make the browser use it.

const KEY = 'awan.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// GET or POST a path; JSON back (or text with `text`). 429 is retried after Retry-After, up to 5 times.
export async function call(
  path: string,
  opts: { method?: string; body?: unknown; text?: boolean } = {},
): Promise<any> {
  for (let attempt = 0; ; ++attempt) {
    const res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers: {
        Authorization: `Bearer ${token() ?? ''}`,
        ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
    if (res.status === 429 && attempt < 5) {
      await sleep(1000 * Number(res.headers.get('Retry-After') ?? '1'));
      continue;
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (await res.json()).error ?? message;
      } catch {
        /* not JSON */
      }
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, message);
    }
    if (opts.text) return { text: await res.text(), headers: res.headers };
    return res.json();
  }
}

export interface Job {
  id: string;
  name: string;
  tenant: string;
  user?: string;
  state: string;
  message: string;
  created_ms: number;
  updated_ms: number;
  exit_code?: number;
  runs: number;
  restarts: number;
  tasks?: number;
  gpus?: number;
  accelerator?: string;
  placement: { node: string; devices: string; region: string }[];
  started_ms?: number;
  ended_ms?: number;
  gpu_hours?: number;
  cost_usd?: number;
  manifest?: any;
  events?: { t_ms: number; event: string }[]; // its history, oldest first (the full view only)
}

// Every job the caller may see, page by page (the API gives 1,000 at a time); `state` narrows it.
// `after`: only the jobs submitted after that one (ids sort by submission).
export async function allJobs(state?: string, onPage?: (n: number) => void, after = ''): Promise<Job[]> {
  const out: Job[] = [];
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', view: 'summary' });
    if (state) q.set('state', state);
    if (after) q.set('after', after);
    const page = await call(`/v1/jobs?${q}`);
    out.push(...page.items);
    onPage?.(out.length);
    if (!page.next) return out;
    after = page.next;
  }
}

export interface Whoami {
  tenant: string;
  role: string;
  user?: string;
}
