// Starts the server as `npm start` does (its exact node arguments) in a child process, on a free
// loopback port, and collects its stdout lines. For lifecycle tests: signals, exit codes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `npm start`'s node arguments, read from package.json so the tests start what users start. */
export const START_ARGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);

export interface ChildServer {
  child: ChildProcess;
  port: number;
  url: string;
  stdout: string[];
  stderr: string[];
  /** Parsed JSON log lines so far. */
  lines(): Record<string, unknown>[];
  waitForLine(message: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Another program than Glassbox's (examples/…): its node arguments and folder. */
export interface ChildProgram {
  args: string[];
  cwd: string;
}

export async function startChildServer(env: Record<string, string | undefined>, program: ChildProgram = { args: START_ARGS, cwd: ROOT }): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, program.args, {
    cwd: program.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let i;
    while ((i = buffer.indexOf('\n')) !== -1) {
      stdout.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = () =>
    stdout.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout,
    stderr,
    lines,
    exited,
    async waitForLine(message, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = lines().find((l) => l.message === message);
        if (found) return found;
        if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before "${message}": ${stdout.join('\n')}\n${stderr.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no "${message}" line within ${timeoutMs} ms:\n${stdout.join('\n')}\n${stderr.join('\n')}`);
    },
  };
}

/** One JSON request to a child server: its status, headers and parsed body. */
export async function callServer(server: Pick<ChildServer, 'url'>, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}
