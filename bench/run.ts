// npm run bench — what observability costs, measured on real PostgreSQL.
//
// Configurations (one server process each, all started at once and pinned to core 0; wrk
// pinned to core 1):
//   a  observability off: OTEL_SDK_DISABLED=true, METRICS_ENABLED=false, LOG_LEVEL=warn
//   m  a + the metrics hooks alone (METRICS_ENABLED=true): their throughput cost
//   b  logs + metrics: request logs at info, METRICS_ENABLED=true, no tracing
//   c  b + traces, 100 % sampled, exported over OTLP/http-protobuf to a local receiver
//   d  c at parentbased_traceidratio 10 %
//   z  bare Fastify doing the same SELECT by primary key (no auth, no tenant transaction)
//   s  d + error tracking: SENTRY_DSN at a local receiver (Sentry loaded and listening)
//   o  (only when BENCH_CONFIGS names it) c with nothing sampled: the cost of an unsampled request
// Routes: GET /health/live, GET /api/products/:id (authenticated), POST /api/orders.
// Per route: a 3 s warm-up of every server, then BENCH_ROUNDS rounds (default 5) of
// BENCH_DURATION seconds (default 5) on each configuration in turn, the first one rotating.
// Medians are reported; each ratio to (a) and to (z) is the median of the ratios within a
// round, which cancels the machine's drift between rounds. Written to bench/results/latest.json.
// Each traced configuration exports to a receiver of its own, which counts the spans. Peak RSS
// is each server's own during each route (Linux clear_refs resets VmHWM before the route's
// warm-up), and over the whole bench.
// For quick experiments: BENCH_CONFIGS=a,c (which configurations), BENCH_ROUTES=product (which
// routes), BENCH_SCRAPE=0 (skip the scrape), BENCH_NODE_FLAGS="…" (extra node flags).
// Then the scrape: a metrics-on server gets 100 tenants × every API route, and GET /metrics
// is timed 50 times in each format (median reported).
// Then the profile cost (BENCH_PROFILE=0 skips it): on d's server, the product read is
// loaded for BENCH_PROFILE_SECONDS (default 10) with no profile running and again while
// POST /admin/profile/cpu takes a profile of the same length, in both formats, for
// BENCH_PROFILE_ROUNDS rounds (default 3); the median ratio of the throughputs is reported.
//
// Then, when the order route ran, the database's limit (bench/order-replay.ts, BENCH_REPLAY=0
// skips it): the statements one paid order sends, request and confirmation job, captured from
// PostgreSQL's statement log, replayed by pgbench at the same concurrency for
// BENCH_REPLAY_SECONDS (default 10); orders/s is printed as a share of the replay's rate.
//
// Needs: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/glassbox_bench, created
// when missing), wrk and taskset
// (Debian: apt-get install wrk). Only loopback addresses are used.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { EXPORT_BLOCK_BOUNDS } from '../src/observability/tracing/export-blocking.ts';
import { readStall, stallBetween, type RunStall } from './loop-stall.ts';
import { orderReplay } from './order-replay.ts';

const ROOT = join(import.meta.dirname, '..');
// A database of the bench's own (created when missing): its orders and pending jobs must not
// land in the database the tests share.
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/glassbox_bench';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP = 3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0000';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? '0';
const LOAD_CORE = process.env.BENCH_LOAD_CORE ?? '1';
/** `npm start`'s node arguments (package.json), so the bench runs what users run. */
const START_ARGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);
/** Orders spread over this many products, as real traffic is. */
const ORDER_PRODUCTS = 32;
/** How long pgbench replays the order's statements (BENCH_REPLAY=0 skips it). */
const REPLAY_SECONDS = Number(process.env.BENCH_REPLAY_SECONDS ?? 10);

type ConfigName = 'a' | 'm' | 'b' | 'c' | 'd' | 's' | 'o' | 'z';
/** The configurations that export spans (their runs report the export's loop stalls). */
const TRACED = new Set<ConfigName>(['c', 'd', 's', 'o']);
type RouteName = 'health' | 'product' | 'order';

const CONFIGS: Record<ConfigName, { label: string; env: Record<string, string>; bare?: boolean }> = {
  a: { label: 'observability off', env: { OTEL_SDK_DISABLED: 'true', METRICS_ENABLED: 'false', LOG_LEVEL: 'warn' } },
  m: { label: 'metrics hooks only', env: { OTEL_SDK_DISABLED: 'true', METRICS_ENABLED: 'true', LOG_LEVEL: 'warn' } },
  b: { label: 'logs + metrics', env: { OTEL_SDK_DISABLED: 'true', METRICS_ENABLED: 'true', LOG_LEVEL: 'info' } },
  c: { label: 'logs + metrics + traces 100 % (OTLP)', env: { METRICS_ENABLED: 'true', LOG_LEVEL: 'info', OTEL_TRACES_SAMPLER: 'always_on' } },
  d: {
    label: 'logs + metrics + traces 10 % (OTLP)',
    env: { METRICS_ENABLED: 'true', LOG_LEVEL: 'info', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  },
  // d with Sentry on: the DSN points at the bench's own receiver (set in startServer).
  s: {
    label: 'd + error tracking (Sentry DSN)',
    env: { METRICS_ENABLED: 'true', LOG_LEVEL: 'info', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  },
  // Not in the default set: the tracing machinery with nothing sampled (what an unsampled request costs).
  o: {
    label: 'logs + metrics + tracing, nothing sampled',
    env: { METRICS_ENABLED: 'true', LOG_LEVEL: 'info', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
  },
  z: { label: 'bare Fastify + pg (ceiling)', env: {}, bare: true },
};

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  /** Server CPU time (user + system) per request, in µs: steadier than req/s on a noisy box. */
  cpu_us?: number;
  round?: number;
  /** Order route: confirmation jobs still queued when the load stopped, and how long they took to drain. */
  backlog?: number;
  drain_ms?: number;
  /** Traced configurations: what span export held the event loop for during the run (loop-stall.ts). */
  stall?: RunStall;
}

function requireTool(name: string): void {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${name} is missing (Debian: apt-get install ${name === 'taskset' ? 'util-linux' : name})`);
    process.exit(1);
  }
}

/**
 * Lets Postgres finish the previous configuration's work before the next one starts: the
 * order route leaves dead tuples, WAL and autovacuum work behind, which would otherwise be
 * billed to whichever configuration runs next (always the same one in a fixed order).
 */
async function settle(): Promise<{ backlog: number; drain_ms: number }> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    // The confirmations still queued when the load stopped, and the time they take to drain
    // (issue 15's goal: bounded, and drained within 10 s). Waiting for the queue to empty also
    // keeps the next configuration's servers from processing (and tracing) this one's jobs.
    const started = Date.now();
    const deadline = started + 60_000;
    let backlog: number | undefined;
    let drainMs = Number.NaN;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pgboss.job WHERE name = 'order-confirmation' AND state IN ('created', 'retry', 'active')`,
      );
      backlog ??= Number(rows[0]!.n);
      if (Number(rows[0]!.n) === 0) {
        drainMs = Date.now() - started;
        break;
      }
      await sleep(100);
    }
    for (const sql of ['VACUUM (ANALYZE)', 'CHECKPOINT']) {
      // CHECKPOINT needs a superuser or pg_checkpoint; without it the bench goes on unsettled.
      await client.query(sql).catch((error: Error) => console.warn(`bench: ${sql} failed (${error.message})`));
    }
    return { backlog: backlog ?? 0, drain_ms: drainMs };
  } finally {
    await client.end();
  }
}

/**
 * Drops the jobs earlier benches left queued in the bench's database (reconcile jobs are set
 * a day ahead, confirmations may be left when a bench was stopped): this bench's servers
 * would otherwise work through them while they are measured. Also the ones left 'active'
 * with no worker alive (a bench stopped mid-run, and the order replay, whose pgbench
 * clients replay pg-boss's fetch but complete only the job ids they made up): counted as
 * backlog, they would never drain.
 */
async function clearQueuedJobs(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DELETE FROM pgboss.job WHERE state IN ('created', 'retry', 'active')`);
  } finally {
    await client.end();
  }
}

/** Creates the bench's database on its server when it does not exist yet. */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

// The official OTLP protobuf definitions (a devDependency), to count the spans that arrive.
const otlpRoot = createRequire(import.meta.url)('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: {
    proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(b: Buffer): { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] } } } } } };
  };
};
const { ExportTraceServiceRequest } = otlpRoot.opentelemetry.proto.collector.trace.v1;

interface Receiver {
  server: Server;
  port: number;
  bytes: () => number;
  /** Decodes what arrived since the last call and returns its span count. */
  takeSpans: () => number;
}

/**
 * A local OTLP/HTTP receiver that accepts what it is sent and counts the spans. It answers
 * while wrk runs (wrk is spawned asynchronously), so an exporter is never held up by the
 * bench itself: spans the server drops would show as a shortfall in the printed counts.
 */
function startReceiver(): Promise<Receiver> {
  let bytes = 0;
  let pending: Buffer[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      parts.push(c);
    });
    req.on('end', () => {
      pending.push(Buffer.concat(parts)); // decoded later, off the measured window
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const takeSpans = () => {
    let spans = 0;
    for (const payload of pending)
      for (const rs of ExportTraceServiceRequest.decode(payload).resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
    pending = [];
    return spans;
  };
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0, bytes: () => bytes, takeSpans });
    }),
  );
}

/** Servers still running, stopped if the bench fails half-way. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error('server did not become ready');
}

async function startServer(config: ConfigName, receiverPort?: number, sentryPort?: number): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const c = CONFIGS[config];
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const args = c.bare ? ['bench/bare-server.ts'] : [...flags, ...START_ARGS];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    DATABASE_URL,
    JWT_SECRET,
    APP_ENV: 'production',
    // Reconcile jobs are a crash safety net; firing during a later configuration's run they
    // would bill that configuration for an earlier one's orders.
    ORDER_RECONCILE_AFTER_SECONDS: '86400',
    // The per-tenant rate limit runs (its cost is measured) but never refuses: one tenant sends everything.
    RATE_LIMIT_PER_MINUTE: '10000000',
    // The admin endpoints (the profile cost is measured through them); routes only, no per-request hook.
    ADMIN_TOKEN,
    ...(sentryPort ? { SENTRY_DSN: `http://public@127.0.0.1:${sentryPort}/1` } : {}),
    ...(receiverPort ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } : {}),
    ...c.env,
  };
  // Logs go to /dev/null: the cost of formatting and writing them is measured, not a pipe's.
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child);
  return { child, url };
}

/** A process's peak resident memory (VmHWM) in MB: since it started, or since `resetPeakRss`. */
function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/**
 * Resets a process's VmHWM to its current RSS (Linux `clear_refs` value 5), so each route's
 * peak is its own. Returns false where the kernel does not allow it: then peaks are over
 * the whole bench.
 */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function stopServer(child: ChildProcess): Promise<number> {
  const peak = peakRss(child.pid!);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return peak;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const toMs = (value: string): number => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
};

const execFileAsync = promisify(execFile);

/**
 * wrk's options go before the URL; a Lua script's arguments after `--`, after it. Spawned
 * asynchronously: the OTLP receiver lives in this process and must keep answering.
 */
async function wrk(url: string, seconds: number, load: { options: string[]; scriptArgs?: string[] }): Promise<Sample & { requests: number }> {
  const args = ['-c', LOAD_CORE, 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...load.options, url];
  if (load.scriptArgs) args.push('--', ...load.scriptArgs);
  const { stdout: out } = await execFileAsync('taskset', args, { encoding: 'utf8' });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) console.warn(`bench: ${non2xx} non-2xx answers from ${url}`);
  return { rps, p50, p99, requests };
}

async function api(url: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  requireTool('wrk');
  requireTool('taskset');
  execFileSync('taskset', ['-cp', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  await ensureDatabase(DATABASE_URL);

  // Setup: migrate (by starting once), a tenant, a product with plenty of stock.
  const setup = await startServer('a');
  const slug = `bench-${Date.now().toString(36)}`;
  const signup = await api(setup.url, '/api/tenants', {
    method: 'POST',
    body: { name: 'Bench', slug, email: `owner@${slug}.test`, password: 'bench password 123' },
  });
  const token = signup.access_token as string;
  const productIds: string[] = [];
  for (let i = 0; i < ORDER_PRODUCTS; i++) {
    const product = await api(setup.url, '/api/products', {
      method: 'POST',
      token,
      body: { name: `Bench widget ${i}`, price_cents: 100 + i, stock: 1_000_000 },
    });
    productIds.push(product.id as string);
  }
  const productId = productIds[0]!;
  await stopServer(setup.child);
  await clearQueuedJobs();

  const routes: Record<RouteName, (run: string) => { options: string[]; scriptArgs?: string[] }> = {
    health: () => ({ options: [] }),
    product: () => ({ options: ['-H', `Authorization: Bearer ${token}`] }),
    order: (run) => ({
      options: ['-s', join(ROOT, 'bench/orders.lua')],
      scriptArgs: [token, run, ...productIds],
    }),
  };
  const paths: Record<RouteName, string> = { health: '/health/live', product: `/api/products/${productId}`, order: '/api/orders' };

  const order = (process.env.BENCH_CONFIGS?.split(',') ?? ['a', 'm', 'b', 'c', 'd', 's', 'z']) as ConfigName[];
  // Every configuration's server runs for the whole bench (each pinned to the server core,
  // idle while another is loaded), so a round is only a few seconds of each and the rounds
  // can be many: the machine's drift over minutes then hits every configuration alike, and
  // each ratio is taken within one round (x against the a of the same round).
  const receivers = new Map<ConfigName, Receiver>();
  const servers = new Map<ConfigName, { child: ChildProcess; url: string }>();
  const sentry = order.includes('s') ? await startSentryReceiver() : undefined;
  for (const config of order) {
    if (config === 'c' || config === 'd' || config === 's' || config === 'o') receivers.set(config, await startReceiver());
    servers.set(config, await startServer(config, receivers.get(config)?.port, config === 's' ? sentry?.port : undefined));
  }

  const samples: Record<string, Sample[]> = {};
  let tail: Awaited<ReturnType<typeof tailRuns>> | undefined;
  /** Each server's peak RSS (MB) during each route, warm-up included, and over the whole bench. */
  const routePeak: Record<string, number> = {};
  const wholePeak: Partial<Record<ConfigName, number>> = {};
  let perRoutePeaks = true;
  /** Spans each traced server exported per request it served: a shortfall means dropped spans. */
  const served: Partial<Record<ConfigName, number>> = {};
  // Orders last: the reads are measured before the order route leaves dead tuples behind.
  for (const route of ['health', 'product', 'order'] as RouteName[]) {
    if (ROUTE_FILTER && !ROUTE_FILTER.includes(route)) continue;
    const configs = order.filter((c) => !(c === 'z' && route === 'order'));
    for (const config of order) {
      const pid = servers.get(config)!.child.pid!;
      // The peak so far (start-up, earlier routes) counts for the whole-bench figure.
      wholePeak[config] = Math.max(wholePeak[config] ?? 0, peakRss(pid));
      perRoutePeaks &&= resetPeakRss(pid);
    }
    for (const config of configs) {
      const { url } = servers.get(config)!;
      served[config] = (served[config] ?? 0) + (await wrk(`${url}${paths[route]}`, WARMUP, routes[route](`w${config}${Date.now()}`))).requests;
    }
    for (let round = 1; round <= ROUNDS; round++) {
      // A different configuration goes first each round, so none always follows the same one.
      const rotated = configs.map((_, i) => configs[(i + round - 1) % configs.length]!);
      for (const config of rotated) {
        const { child, url } = servers.get(config)!;
        // Read (and the loop-lag monitor reset) before the CPU count starts: not billed to the run.
        const stallBefore = TRACED.has(config) && route !== 'health' ? await readStall(url) : undefined;
        const cpuBefore = cpuSeconds(child.pid!);
        const { requests, ...sample } = await wrk(`${url}${paths[route]}`, DURATION, routes[route](`${round}${config}${Date.now()}`));
        served[config] = (served[config] ?? 0) + requests;
        sample.cpu_us = Number((((cpuSeconds(child.pid!) - cpuBefore) / (sample.rps * DURATION)) * 1e6).toFixed(1));
        sample.round = round;
        const stallAfter = stallBefore ? await readStall(url) : undefined;
        if (stallBefore && stallAfter) sample.stall = stallBetween(stallBefore, stallAfter);
        (samples[`${config}.${route}`] ??= []).push(sample);
        console.log(
          `${route.padEnd(7)} round ${String(round).padStart(2)} ${config} ${sample.rps.toFixed(0).padStart(6)} req/s  p50 ${sample.p50.toFixed(2)} ms  p99 ${sample.p99.toFixed(2)} ms  cpu ${sample.cpu_us} µs/req`,
        );
        // The order route leaves dead tuples and WAL: settled before the next run, not billed to it.
        if (route === 'order') {
          Object.assign(sample, await settle());
          console.log(
            `order   round ${String(round).padStart(2)} ${config} confirmations queued at the end: ${sample.backlog}, drained in ${sample.drain_ms} ms`,
          );
        }
      }
    }
    if (route === 'product' && TAIL_PASSES > 0 && configs.includes('a') && configs.includes('c')) {
      tail = await tailRuns(servers, paths.product, routes.product('tail'));
    }
    for (const config of configs) {
      const peak = peakRss(servers.get(config)!.child.pid!);
      routePeak[`${config}.${route}`] = peak;
      wholePeak[config] = Math.max(wholePeak[config] ?? 0, peak);
    }
  }

  const exported: Record<string, { requests: number; spans: number }> = {};
  for (const config of order) {
    const last = await stopServer(servers.get(config)!.child); // SIGTERM: a traced server flushes its last spans
    wholePeak[config] = Math.max(wholePeak[config] ?? 0, last);
    const spans = receivers.get(config)?.takeSpans();
    if (spans !== undefined) exported[config] = { requests: served[config] ?? 0, spans };
  }

  // The database's limit for this order path (bench/order-replay.ts), with every server stopped.
  const runOrders = (ROUTE_FILTER ?? ['order']).includes('order');
  const replay =
    process.env.BENCH_REPLAY === '0' || !runOrders
      ? undefined
      : await orderReplay({
          databaseUrl: DATABASE_URL,
          token,
          productIds,
          connections: CONNECTIONS,
          seconds: REPLAY_SECONDS,
          startCapture: async () => {
            const { child, url } = await startServer('a');
            return { url, stop: () => stopServer(child) };
          },
        });
  // The replay's jobs (created and fetched by pgbench, never completed): not the next bench's backlog.
  if (replay) await clearQueuedJobs();

  const results: Record<string, unknown> = {};
  console.log(`\nMedians of ${ROUNDS} rounds, ${DURATION} s each, ${CONNECTIONS} connections, servers on core ${SERVER_CORE}, wrk on core ${LOAD_CORE}.`);
  console.log(
    `"vs a", "p99 vs a" and "cpu vs a" are medians of the ratios within each round; peak RSS is ${perRoutePeaks ? "the server's during that route (warm-up included)" : 'over the whole bench (this kernel did not let the bench reset VmHWM)'}.\n`,
  );
  console.log('config route     req/s    p50 ms   p99 ms  p99 vs a  peak RSS MB   vs a    vs z  cpu µs/req  cpu vs a');
  for (const route of Object.keys(routes) as RouteName[]) {
    const base = samples[`a.${route}`];
    const ceiling = samples[`z.${route}`];
    /** The median over rounds of x's figure divided by the reference's in the same round. */
    const pairedRatio = (s: Sample[], ref: Sample[] | undefined, figure: (x: Sample) => number) => {
      if (!ref) return null;
      const ratios = s.flatMap((x) => {
        const r = ref.find((y) => y.round === x.round);
        return r ? [figure(x) / figure(r)] : [];
      });
      return ratios.length ? Number(median(ratios).toFixed(3)) : null;
    };
    for (const config of order) {
      const s = samples[`${config}.${route}`];
      if (!s) continue;
      const row = {
        label: CONFIGS[config].label,
        rps: Math.round(median(s.map((x) => x.rps))),
        p50_ms: Number(median(s.map((x) => x.p50)).toFixed(2)),
        p99_ms: Number(median(s.map((x) => x.p99)).toFixed(2)),
        peak_rss_mb: (perRoutePeaks ? routePeak[`${config}.${route}`] : wholePeak[config]) ?? 0,
        ratio_to_a: pairedRatio(s, base, (x) => x.rps),
        ratio_to_z: pairedRatio(s, ceiling, (x) => x.rps),
        p99_ratio_to_a: pairedRatio(s, base, (x) => x.p99),
        cpu_us_per_request: median(s.map((x) => x.cpu_us ?? NaN)),
        cpu_ratio_to_a: pairedRatio(s, base, (x) => x.cpu_us ?? NaN),
        // Error tracking's cost: s against the same configuration without Sentry.
        ...(config === 's' ? { ratio_to_d: pairedRatio(s, samples[`d.${route}`], (x) => x.rps) } : {}),
        runs: s,
      };
      results[route] ??= {} as Record<string, unknown>;
      (results[route] as Record<string, unknown>)[config] = row;
      console.log(
        `${config.padEnd(6)} ${route.padEnd(8)} ${String(row.rps).padStart(6)} ${row.p50_ms.toFixed(2).padStart(8)} ${row.p99_ms.toFixed(2).padStart(8)} ${(row.p99_ratio_to_a ?? 0).toFixed(2).padStart(9)} ${String(row.peak_rss_mb).padStart(12)} ${(row.ratio_to_a ?? 0).toFixed(2).padStart(6)} ${row.ratio_to_z === null ? '     -' : row.ratio_to_z.toFixed(2).padStart(6)} ${row.cpu_us_per_request.toFixed(1).padStart(11)} ${(row.cpu_ratio_to_a ?? 0).toFixed(2).padStart(9)}`,
      );
    }
  }
  for (const route of Object.keys(routes) as RouteName[]) {
    const row = (results[route] as Record<string, { ratio_to_d?: number | null }> | undefined)?.s;
    if (row?.ratio_to_d != null) console.log(`s vs d on ${route}: ${row.ratio_to_d.toFixed(3)} of the throughput without Sentry`);
  }
  for (const config of order) {
    const runs = samples[`${config}.order`]?.filter((x) => x.backlog !== undefined) ?? [];
    if (runs.length === 0) continue;
    console.log(
      `${config}: confirmation backlog when the order load stopped: at most ${Math.max(...runs.map((x) => x.backlog!))} jobs, drained within ${Math.max(...runs.map((x) => x.drain_ms!))} ms`,
    );
  }
  console.log(
    "\nspan export on the event loop (median over rounds): blocks a second, mean block, the block 99.9 % of blocks stay under, blocks over 1 ms, the longest; and the loop's longest delay from any cause",
  );
  for (const route of ['product', 'order'] as RouteName[]) {
    for (const config of order) {
      const runs = samples[`${config}.${route}`]?.filter((x) => x.stall) ?? [];
      if (runs.length === 0) continue;
      const longest = runs.map((x) => x.stall!.longest_block_le_ms);
      const finite = longest.filter((x): x is number => typeof x === 'number');
      console.log(
        `${config} ${route.padEnd(8)} ${median(runs.map((x) => x.stall!.blocks / DURATION)).toFixed(0)} blocks/s, mean ${median(runs.map((x) => x.stall!.mean_us)).toFixed(1)} µs, 99.9 % ≤ ${median(runs.map((x) => (typeof x.stall!.p999_block_le_ms === 'number' ? x.stall!.p999_block_le_ms : Infinity)))} ms, ${median(runs.map((x) => x.stall!.over_1ms))} over 1 ms a run, longest ≤ ${longest.includes('+Inf') ? `> ${EXPORT_BLOCK_BOUNDS.at(-1)! * 1000}` : finite.length ? Math.max(...finite) : '-'} ms (worst round); loop lag max ${median(runs.map((x) => x.stall!.loop_lag_max_ms)).toFixed(1)} ms`,
      );
    }
  }
  if (tail) {
    console.log(`\nthe traced tail, configurations one after the other (${TAIL_SECONDS} s each, ${TAIL_PASSES} passes) on the product read:`);
    for (const pass of tail) {
      console.log(
        `pass ${pass.pass}: ${pass.runs.map((r) => `${r.config} p99 ${r.p99.toFixed(2)} ms ${r.rps.toFixed(0)} req/s${r.stall ? ` (export longest block ≤ ${r.stall.longest_block_le_ms} ms, loop lag max ${r.stall.loop_lag_max_ms} ms)` : ''}`).join('; ')}; c/a p99 ${pass.p99_c_over_a.toFixed(2)}, req/s ${pass.rps_c_over_a.toFixed(2)}`,
      );
    }
  }
  if (replay && 'skipped' in replay) console.log(`\norder replay skipped: ${replay.skipped}`);
  else if (replay) {
    console.log(
      `\npgbench replay of one paid order's statements (${replay.statements.request} round trips and ${replay.commits.request} commits in the request, ${replay.statements.background} and ${replay.commits.background} in the background), ${CONNECTIONS} clients, ${REPLAY_SECONDS} s each: the whole order in one session ${replay.tps.toFixed(0)} orders/s, the request alone ${replay.request_tps.toFixed(0)}/s (script ${replay.script})`,
    );
    for (const config of order) {
      const runs = samples[`${config}.order`];
      const rate = runs?.length ? median(runs.map((x) => x.rps)) : undefined;
      if (rate !== undefined)
        console.log(
          `${config}: ${rate.toFixed(0)} orders/s = ${(rate / replay.tps).toFixed(2)} of the whole order's replay, ${(rate / replay.request_tps).toFixed(2)} of the request's`,
        );
    }
  }
  console.log(`\npeak RSS over the whole bench (start-up and all routes): ${order.map((c) => `${c} ${wholePeak[c] ?? 0} MB`).join(', ')}`);
  for (const [config, e] of Object.entries(exported)) {
    console.log(`${config}: the OTLP receiver got ${e.spans} spans for ${e.requests} requests (${(e.spans / e.requests).toFixed(2)} a request)`);
  }
  if (sentry) console.log(`s: the Sentry receiver got ${sentry.envelopes()} envelopes (the routes measured answer no 5xx)`);
  const scrape = process.env.BENCH_SCRAPE === '0' ? undefined : await scrapeCost();
  const profile = process.env.BENCH_PROFILE === '0' ? undefined : await profileCost(paths.product, routes.product('profile'));

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results/latest.json');
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds: ROUNDS, duration_s: DURATION, connections: CONNECTIONS, peak_rss_per_route: perRoutePeaks, peak_rss_mb_whole_bench: wholePeak, otlp_bytes_received: [...receivers.values()].reduce((n, r) => n + r.bytes(), 0), exported, results, traced_tail_sequential: tail, order_replay: replay, confirmation_backlog: Object.fromEntries(order.flatMap((c) => (samples[`${c}.order`] ? [[c, samples[`${c}.order`]!.map((x) => ({ backlog: x.backlog, drain_ms: x.drain_ms }))]] : []))), scrape, profile }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
  for (const r of receivers.values()) r.server.close();
  sentry?.server.close();
}

const TAIL_SECONDS = Number(process.env.BENCH_TAIL_SECONDS ?? 8);
const TAIL_PASSES = Number(process.env.BENCH_TAIL_PASSES ?? 2);

/**
 * The traced tail as a user first measured it: on the product read, observability off (a)
 * then 100 % tracing (c), and d when it runs, one long run each, one after the other
 * (BENCH_TAIL_PASSES passes of BENCH_TAIL_SECONDS s; 0 passes skips it). A single pair of
 * runs is exactly what the interleaved rounds' medians smooth over, so both are reported.
 */
async function tailRuns(servers: Map<ConfigName, { child: ChildProcess; url: string }>, path: string, load: { options: string[] }) {
  const passes = [];
  for (let pass = 1; pass <= TAIL_PASSES; pass++) {
    const runs: { config: ConfigName; rps: number; p99: number; stall?: RunStall }[] = [];
    for (const config of (['a', 'c', 'd'] as ConfigName[]).filter((c) => servers.has(c))) {
      const { url } = servers.get(config)!;
      const before = TRACED.has(config) ? await readStall(url) : undefined;
      const { rps, p99 } = await wrk(`${url}${path}`, TAIL_SECONDS, load);
      const after = before ? await readStall(url) : undefined;
      runs.push({ config, rps, p99, ...(before && after ? { stall: stallBetween(before, after) } : {}) });
    }
    const a = runs.find((r) => r.config === 'a')!;
    const c = runs.find((r) => r.config === 'c')!;
    passes.push({ pass, runs, p99_c_over_a: Number((c.p99 / a.p99).toFixed(2)), rps_c_over_a: Number((c.rps / a.rps).toFixed(2)) });
  }
  return passes;
}

/** A stand-in for Sentry on loopback: accepts envelopes and counts them. */
function startSentryReceiver(): Promise<{ server: Server; port: number; envelopes: () => number }> {
  let envelopes = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      envelopes++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0, envelopes: () => envelopes });
    }),
  );
}

const PROFILE_SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const PROFILE_ROUNDS = Number(process.env.BENCH_PROFILE_ROUNDS ?? 3);

/**
 * What a CPU profile costs while it runs: d's configuration, the product read loaded for
 * PROFILE_SECONDS without a profile, then while POST /admin/profile/cpu takes one of the
 * same length (.cpuprofile, then pprof with route and trace labels). Each profiled run sits
 * between two plain ones and is compared with their mean; the median over the rounds is reported.
 */
async function profileCost(path: string, load: { options: string[]; scriptArgs?: string[] }) {
  const receiver = await startReceiver();
  const { child, url } = await startServer('d', receiver.port);
  const ratios: Record<'cpuprofile' | 'pprof', number[]> = { cpuprofile: [], pprof: [] };
  const sizes: Record<string, number> = {};
  try {
    await wrk(`${url}${path}`, WARMUP, load);
    for (let round = 1; round <= PROFILE_ROUNDS; round++) {
      // plain, profiled, plain, profiled, plain: each profiled run is compared with the mean of
      // the plain runs on either side of it, so a drift of the machine within the round cancels.
      let before = await wrk(`${url}${path}`, PROFILE_SECONDS, load);
      for (const format of ['cpuprofile', 'pprof'] as const) {
        const profile = fetch(`${url}/admin/profile/cpu?seconds=${PROFILE_SECONDS}${format === 'pprof' ? '&format=pprof' : ''}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        }).then(async (res) => {
          if (!res.ok) throw new Error(`profile: ${res.status} ${await res.text()}`);
          return (await res.arrayBuffer()).byteLength;
        });
        const profiled = await wrk(`${url}${path}`, PROFILE_SECONDS, load);
        sizes[format] = await profile;
        const after = await wrk(`${url}${path}`, PROFILE_SECONDS, load);
        const plainRps = (before.rps + after.rps) / 2;
        ratios[format].push(profiled.rps / plainRps);
        console.log(
          `profile round ${round} ${format.padEnd(10)} ${before.rps.toFixed(0)} and ${after.rps.toFixed(0)} req/s without, ${profiled.rps.toFixed(0)} req/s while profiling (${((profiled.rps / plainRps) * 100).toFixed(1)} %), ${Math.round(sizes[format]! / 1024)} KiB`,
        );
        before = after;
      }
    }
  } finally {
    await stopServer(child);
    receiver.server.close();
  }
  const result = {
    seconds: PROFILE_SECONDS,
    rounds: PROFILE_ROUNDS,
    cpuprofile_ratio: Number(median(ratios.cpuprofile).toFixed(3)),
    pprof_ratio: Number(median(ratios.pprof).toFixed(3)),
    bytes: sizes,
  };
  console.log(
    `\nthroughput while a ${PROFILE_SECONDS} s CPU profile runs, median of ${PROFILE_ROUNDS} rounds, each against the plain runs around it: .cpuprofile ${result.cpuprofile_ratio}, pprof ${result.pprof_ratio} of the same server without one`,
  );
  return result;
}

/** BENCH_ROUTES=health,product: only those routes (for quick experiments). */
const ROUTE_FILTER = process.env.BENCH_ROUTES?.split(',');
const SCRAPE_TENANTS = Number(process.env.BENCH_SCRAPE_TENANTS ?? 100);
const SCRAPES = 50;

/**
 * The cost of GET /metrics at a realistic size: SCRAPE_TENANTS tenants, each calling every
 * API route (signup, login, users, products, orders captured and declined, a 404), so the
 * per-tenant series (api_calls_total, orders_total, revenue, signups, failures) are full.
 * Then SCRAPES sequential scrapes per format; the median wall time as the client sees it.
 */
async function scrapeCost() {
  const { child, url } = await startServer('m');
  try {
    const run = Date.now().toString(36);
    for (let t = 0; t < SCRAPE_TENANTS; t++) {
      const slug = `scrape-${run}-${t}`;
      const email = `owner@${slug}.test`;
      const password = 'bench password 123';
      await api(url, '/api/tenants', { method: 'POST', body: { name: `Scrape ${t}`, slug, email, password, source: 'organic' } });
      const { access_token: token } = (await api(url, '/api/auth/login', { method: 'POST', body: { tenant: slug, email, password } })) as {
        access_token: string;
      };
      const product = await api(url, '/api/products', { method: 'POST', token, body: { name: `Widget ${t % 10}`, price_cents: 500 + t, stock: 100 } });
      await api(url, `/api/products/${product.id as string}`, { token });
      await api(url, '/api/products', { token });
      await api(url, `/api/products/${product.id as string}`, { method: 'PATCH', token, body: { stock: 99 } });
      const orderOf = (key: string, paymentMethod?: string) =>
        fetch(`${url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
          body: JSON.stringify({ items: [{ product_id: product.id, quantity: 1 }], ...(paymentMethod ? { payment_method: paymentMethod } : {}) }),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
      const paid = await orderOf(`scrape-${t}`);
      await orderOf(`scrape-${t}-declined`, 'pm_card_declined');
      await api(url, `/api/orders/${paid.body.id as string}`, { token });
      await api(url, '/api/orders', { token });
      await api(url, '/api/me', { token });
      const user = await api(url, '/api/users', { method: 'POST', token, body: { email: `member@${slug}.test`, password, role: 'member' } });
      await api(url, '/api/users', { token });
      await api(url, `/api/users/${user.id as string}`, { token });
      await fetch(`${url}/no/such/route/${t}`);
    }
    const timeScrapes = async (accept: string) => {
      const times: number[] = [];
      let bytes = 0;
      let series = 0;
      for (let i = 0; i < SCRAPES; i++) {
        const started = performance.now();
        const res = await fetch(`${url}/metrics`, { headers: { accept } });
        const text = await res.text();
        times.push(performance.now() - started);
        bytes = text.length;
        series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      }
      return { median_ms: Number(median(times).toFixed(2)), max_ms: Number(Math.max(...times).toFixed(2)), bytes, series };
    };
    const prometheus = await timeScrapes('text/plain');
    const openmetrics = await timeScrapes('application/openmetrics-text; version=1.0.0');
    console.log(`\n/metrics with ${SCRAPE_TENANTS} tenants × every route, median of ${SCRAPES} scrapes:`);
    console.log(
      `  prometheus text  ${prometheus.median_ms} ms (max ${prometheus.max_ms} ms), ${prometheus.series} samples, ${Math.round(prometheus.bytes / 1024)} KiB`,
    );
    console.log(
      `  openmetrics      ${openmetrics.median_ms} ms (max ${openmetrics.max_ms} ms), ${openmetrics.series} samples, ${Math.round(openmetrics.bytes / 1024)} KiB`,
    );
    return { tenants: SCRAPE_TENANTS, scrapes: SCRAPES, prometheus, openmetrics };
  } finally {
    await stopServer(child);
  }
}

try {
  await main();
} catch (error) {
  console.error('bench failed:', error);
  process.exitCode = 1;
} finally {
  for (const child of running) child.kill('SIGTERM');
}
