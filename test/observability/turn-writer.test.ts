// The stdout writer behind the process logger (turn-writer.ts): lines held until the end of
// the event-loop turn, then written in order with one synchronous write; nothing lost on
// exit, on a full non-blocking pipe or with multi-byte text; a closed reader does not crash.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { turnWriter } from '../../src/observability/logging/turn-writer.ts';

const WRITER = join(import.meta.dirname, '../../src/observability/logging/turn-writer.ts');
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Runs a module-scoped script in a child node with the writer imported as `turnWriter`. */
function runChild(body: string, options: { closeStdout?: boolean; readSlowly?: boolean } = {}) {
  const source = `import { turnWriter } from ${JSON.stringify(WRITER)};\n${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (options.closeStdout) child.stdout.destroy();
  else if (options.readSlowly) {
    // Let the pipe fill first, so the child meets EAGAIN and partial writes.
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 300);
  }
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  return new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr })),
  );
}

describe('turnWriter', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function tempFd() {
    dir = mkdtempSync(join(tmpdir(), 'turn-writer-'));
    const path = join(dir, 'out.log');
    return { path, fd: openSync(path, 'w') };
  }

  it('holds lines until the end of the turn, then writes them in order', async () => {
    const { path, fd } = tempFd();
    const writer = turnWriter(fd);
    writer.write('{"n":1}\n');
    writer.write('{"n":2}\n');
    expect(readFileSync(path, 'utf8')).toBe('');
    await turn();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
    writer.write('{"n":3}\n');
    await turn();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    closeSync(fd);
  });

  it('writes at once when a turn holds 16 KiB, keeping the order', async () => {
    const { path, fd } = tempFd();
    const writer = turnWriter(fd);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 16; i++) writer.write(line);
    expect(readFileSync(path, 'utf8')).toBe(line.repeat(16));
    writer.write('last\n');
    expect(readFileSync(path, 'utf8')).toBe(line.repeat(16));
    await turn();
    expect(readFileSync(path, 'utf8')).toBe(`${line.repeat(16)}last\n`);
    closeSync(fd);
  });

  it('flush writes what is pending and calls back, as pino.flush(cb) expects', () => {
    const { path, fd } = tempFd();
    const writer = turnWriter(fd);
    writer.write('a\n');
    let called = false;
    writer.flush(() => (called = true));
    expect(called).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('a\n');
    closeSync(fd);
  });

  it('writes the pending lines when the process exits within the same turn', async () => {
    const { code, stdout } = await runChild(`const w = turnWriter(1); w.write('first\\n'); w.write('last words\\n'); process.exit(3);`);
    expect(code).toBe(3);
    expect(stdout.toString()).toBe('first\nlast words\n');
  });

  it('delivers every byte of multi-byte text through a full non-blocking pipe', async () => {
    // Touching process.stdout makes libuv set O_NONBLOCK on the pipe: writes then return
    // EAGAIN or write part of the text, which must be retried from the right byte.
    const line = `${'é€😀'.repeat(200)}\n`;
    const { code, stdout, stderr } = await runChild(
      `void process.stdout; const w = turnWriter(1); for (let i = 0; i < 2000; i++) w.write(${JSON.stringify(line)});`,
      { readSlowly: true },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.equals(Buffer.from(line.repeat(2000)))).toBe(true);
  });

  it('drops the lines, without crashing, when the reader is gone', async () => {
    const { code, stderr } = await runChild(
      `const w = turnWriter(1); setTimeout(() => { w.write('nobody reads this\\n'); setImmediate(() => process.stderr.write('still running')); }, 200);`,
      { closeStdout: true },
    );
    expect(code).toBe(0);
    expect(stderr).toBe('still running');
  });
});
