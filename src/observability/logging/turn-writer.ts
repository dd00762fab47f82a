// Log lines written synchronously once per turn of the event loop instead of once per line.
//
// - Lines keep their order and reach the file descriptor within the same turn (before the
//   next I/O poll). `exit` (process.exit, a crash, the end of shutdown) writes whatever is
//   pending, so only a SIGKILL or a native crash can lose the current turn's lines.
// - Under load one write(2) carries the lines of every request that completed in the turn:
//   a syscall per request was the largest remaining cost of the request log line
//   (profiled), and on a pipe to a log collector it costs more than on the bench's /dev/null.
// - No fsync. pino's SonicBoom.flushSync() ends with fsync(2), which made the disk flush on
//   every turn when stdout is a file (`npm start > app.log`) and threw, caught, an EINVAL
//   on every turn when it is a pipe: ~2 µs a request on /dev/null, profiled.
import { writeSync } from 'node:fs';

/** Past this many pending characters a turn's lines are written at once, to bound memory. */
const MAX_PENDING = 16 * 1024;

/** What pino needs of a destination. */
export interface LineWriter {
  write(line: string): void;
  /** Writes what is pending now (also done on `exit`); pino's `logger.flush(cb)` calls it. */
  flush(done?: (error?: Error) => void): void;
}

export function turnWriter(fd: number): LineWriter {
  let pending = '';
  let scheduled = false;
  const writePending = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    writeAll(fd, text);
  };
  process.on('exit', writePending);
  return {
    write(line: string) {
      // `+=` builds a rope; write(2) flattens it once.
      pending += line;
      if (pending.length >= MAX_PENDING) writePending();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(writePending);
      }
    },
    flush(done) {
      writePending();
      done?.();
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text`, synchronously. A non-blocking pipe that is full (EAGAIN) is retried
 * after 1 ms, as pino's own synchronous destination does. Any other failure (EPIPE: the
 * reader is gone) drops the lines: there is nowhere left to report it, and a service must
 * not stop serving because its log reader did.
 */
function writeAll(fd: number, text: string): void {
  let rest: string | Buffer = text;
  for (;;) {
    try {
      const written = typeof rest === 'string' ? writeSync(fd, rest) : writeSync(fd, rest);
      const size = typeof rest === 'string' ? Buffer.byteLength(rest) : rest.length;
      if (written >= size) return;
      rest = (typeof rest === 'string' ? Buffer.from(rest) : rest).subarray(written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EBUSY') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
