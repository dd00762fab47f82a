// The database's own limit for the order path: the statements one paid order really sends,
// request and confirmation job together, replayed by pgbench at the bench's concurrency on the
// same PostgreSQL. The bench divides orders/s by the replay's transactions/s.
//
// How the statements are captured, exactly as sent: PostgreSQL logs every statement with its
// parameters (`ALTER DATABASE … SET log_statement = 'all'`, for new sessions of the bench's
// database only) while a fresh server (config a) takes one order; the bench then reads the
// server's log (Debian: /var/log/postgresql/postgresql-15-main.log, or BENCH_PG_LOG). Kept:
// every transaction block that touches the order (the reservation, the settlement, the
// confirmation job's read), and pg-boss's fetch and completion of the confirmation job. Each
// replay uses fresh ids (order, payment, job, idempotency key) and one of the bench's products
// at random, as the wrk script does. The ids are random where the app's are time-ordered
// (UUIDv7), which makes the replay's index inserts, if anything, a little slower.
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const DEFAULT_LOG = '/var/log/postgresql/postgresql-15-main.log';

interface Entry {
  pid: string;
  sql: string;
}

/** The log's entries for `database` (statement and its parameters joined), in order. */
function parseLog(text: string, database: string): Entry[] {
  const entries: Entry[] = [];
  const head = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] [^@\s]*@(\S+) (LOG|DETAIL|ERROR|STATEMENT):\s+(.*)$/;
  let current: { pid: string; db: string; kind: string; text: string } | undefined;
  const flush = () => {
    if (!current || current.db !== database) return;
    if (current.kind === 'LOG') {
      const m = /^(?:statement|execute <unnamed>|execute \S+):\s*([\s\S]*)$/.exec(current.text);
      if (m) entries.push({ pid: current.pid, sql: m[1]!.trim() });
    } else if (current.kind === 'DETAIL' && current.text.startsWith('parameters:')) {
      const last = entries.findLast((e) => e.pid === current!.pid);
      if (last) last.sql = bind(last.sql, current.text.slice('parameters:'.length));
    }
  };
  for (const line of text.split('\n')) {
    const m = head.exec(line);
    if (m) {
      flush();
      current = { pid: m[1]!, db: m[2]!, kind: m[3]!, text: m[4]! };
    } else if (current) current.text += `\n${line.replace(/^\t/, '')}`;
  }
  flush();
  return entries;
}

/** Puts the logged parameter values (`$1 = '…', $2 = NULL`) in place of $n, highest first. */
function bind(sql: string, parameters: string): string {
  const values = new Map<number, string>();
  const re = /\$(\d+) = ('(?:[^']|'')*'|NULL)/g;
  for (const m of parameters.matchAll(re)) values.set(Number(m[1]), m[2]!);
  return sql.replace(/\$(\d+)\b/g, (all, n: string) => values.get(Number(n)) ?? all);
}

export interface Replay {
  /** pgbench transactions a second: one transaction = one whole paid order, request and job in one session. */
  tps: number;
  /** The same with the request's statements alone (the job runs elsewhere in the app). */
  request_tps: number;
  statements: { request: number; background: number };
  commits: { request: number; background: number };
  script: string;
}

/**
 * Captures one paid order's statements and replays them with pgbench for `seconds` at
 * `connections` clients. `startCapture` starts a server (its sessions open after the
 * log setting) and returns its URL and a stop function.
 */
export async function orderReplay(options: {
  databaseUrl: string;
  token: string;
  productIds: string[];
  connections: number;
  seconds: number;
  startCapture: () => Promise<{ url: string; stop: () => Promise<unknown> }>;
}): Promise<Replay | { skipped: string }> {
  try {
    await run('pgbench', ['--version']);
  } catch {
    return { skipped: 'pgbench is missing (Debian: it ships with postgresql-15, or postgresql-client)' };
  }
  const logFile = process.env.BENCH_PG_LOG ?? DEFAULT_LOG;
  try {
    statSync(logFile);
  } catch {
    return { skipped: `PostgreSQL's log ${logFile} is not readable here (set BENCH_PG_LOG)` };
  }
  const url = new URL(options.databaseUrl);
  const database = url.pathname.slice(1);
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  let entries: Entry[];
  let orderId: string;
  let paymentId: string;
  let jobId: string | undefined;
  const key = `replay-capture-${Date.now()}`;
  try {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} SET log_statement = 'all'`);
    const capture = await options.startCapture();
    const from = statSync(logFile).size;
    try {
      const res = await fetch(`${capture.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ items: [{ product_id: options.productIds[0], quantity: 1 }] }),
      });
      const body = (await res.json()) as { id: string; status: string; payment: { id: string } };
      if (res.status !== 201 || body.status !== 'paid') throw new Error(`replay capture: the order answered ${res.status} ${JSON.stringify(body)}`);
      orderId = body.id;
      paymentId = body.payment.id;
      // Until the confirmation job is completed, so its statements are in the log too.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const { rows } = await admin.query(`SELECT id, state FROM pgboss.job WHERE name = 'order-confirmation' AND data->>'order_id' = $1`, [orderId]);
        jobId = rows[0]?.id as string | undefined;
        if (rows[0]?.state === 'completed') break;
        await sleep(100);
      }
      await sleep(500);
    } finally {
      await capture.stop();
    }
    const buffer = readFileSync(logFile).subarray(from);
    entries = parseLog(buffer.toString('utf8'), database);
  } finally {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} RESET log_statement`).catch(() => undefined);
    await admin.end();
  }

  // Transaction blocks per backend (each entry one round trip); keep those that touch the order.
  const blocks: { entries: Entry[]; at: number; end: number }[] = [];
  const open = new Map<string, { entries: Entry[]; at: number; end: number }>();
  entries.forEach((e, i) => {
    const block = open.get(e.pid);
    if (/^BEGIN\b/.test(e.sql)) open.set(e.pid, { entries: [e], at: i, end: i });
    else if (block) {
      block.entries.push(e);
      if (/^(COMMIT|ROLLBACK)\b/.test(e.sql)) {
        open.delete(e.pid);
        block.end = i;
        if (block.entries.some((x) => x.sql.includes(orderId))) blocks.push(block);
      }
    }
  });
  if (blocks.length < 3) return { skipped: `captured ${blocks.length} transactions of the order, expected 3 (is log_statement honoured?)` };
  const [reserve, settle, ...jobBlocks] = blocks;
  // pg-boss's side of the job: the queue's last fetch before the job ran, and the completion naming the job.
  const firstJob = jobBlocks[0]!;
  const lastJob = jobBlocks.at(-1)!;
  const fetchEntry = entries.slice(0, firstJob.at).findLast((e) => /SKIP LOCKED/i.test(e.sql) && e.sql.includes("'order-confirmation'"));
  const completeEntry = jobId ? entries.slice(lastJob.end + 1).find((e) => e.sql.includes(jobId!) && /pgboss/i.test(e.sql)) : undefined;
  const request = [...reserve!.entries, ...settle!.entries];
  const background = [...(fetchEntry ? [fetchEntry] : []), ...jobBlocks.flatMap((b) => b.entries), ...(completeEntry ? [completeEntry] : [])];

  // One pgbench command per round trip: a multi-statement query (the tenant setup) stays one
  // round trip as a compound command (\;). Fresh ids per replay: pgbench substitutes :r anywhere.
  const fresh = (prefix: string) => `00000000-0000-4000-${prefix}-:r`;
  const choice = `(ARRAY[${options.productIds.map((p) => `'${p}'`).join(',')}])[:p]`;
  const command = (e: Entry) => {
    let sql = e.sql.replace(/\s*\n\s*/g, ' ').replace(/;\s*$/, '');
    const replaceAll = (from: string, to: string) => (sql = sql.split(from).join(to));
    replaceAll(orderId, fresh('8001'));
    replaceAll(paymentId, fresh('8002'));
    if (jobId) replaceAll(jobId, fresh('8003'));
    replaceAll(key, 'replay-:r');
    replaceAll(`'{${options.productIds[0]}}'`, `('{' || ${choice} || '}')`);
    return `${sql.replace(/;\s*/g, ' \\; ')};`;
  };
  const header = [`\\set r random(100000000000, 999999999999)`, `\\set p random(1, ${options.productIds.length})`];
  const pgbench = async (name: string, entries: Entry[]) => {
    const file = join(tmpdir(), `glassbox-order-replay-${name}-${process.pid}.sql`);
    writeFileSync(file, `${[...header, ...entries.map(command)].join('\n')}\n`);
    const args = ['-n', '-c', String(options.connections), '-j', '1', '-T', String(options.seconds), '-f', file];
    args.push('-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), database);
    const { stdout } = await run('pgbench', args, { maxBuffer: 16 * 1024 * 1024 });
    return { tps: Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN), file };
  };
  // The whole order in one session (request then job, as one client would send them), and the
  // request's statements alone: in the app the job runs on other connections, overlapping the
  // next requests, so the request alone is the pace the order route can approach.
  const whole = await pgbench('order', [...request, ...background]);
  const requestOnly = await pgbench('request', request);
  const commits = (list: Entry[]) => list.filter((e) => /^COMMIT\b/.test(e.sql)).length;
  return {
    tps: whole.tps,
    request_tps: requestOnly.tps,
    statements: { request: request.length, background: background.length },
    commits: { request: commits(request), background: commits(background) },
    script: whole.file,
  };
}
