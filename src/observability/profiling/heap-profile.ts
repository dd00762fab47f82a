// Memory, two ways:
// - a sampling heap profile over the next `seconds` (which code allocates what is still
//   alive at the end): `.heapprofile` through the inspector (Chrome DevTools' Memory tab and
//   speedscope open it), or pprof through @datadog/pprof. Sampling costs little; the
//   process keeps serving.
// - a full heap snapshot (`.heapsnapshot`, every object and who holds it): the way to find
//   a leak, but V8 stops the process while it walks the heap (seconds on a large heap) and
//   the snapshot is several times the heap's size. V8 hands it over in chunks during that
//   pause; each goes to the response as it comes (no one string of the whole snapshot), and
//   the socket sends them once the process runs again.
import { Session } from 'node:inspector/promises';
import { PassThrough, type Readable } from 'node:stream';
import { datadogPprof } from './pprof-runtime.ts';
import { profileWindow } from './profile-window.ts';

/** One sample per 512 KiB allocated on average: V8's default, a few % of CPU at most. */
const SAMPLING_INTERVAL_BYTES = 512 * 1024;
const STACK_DEPTH = 64;

/** A `.heapprofile` (V8's SamplingHeapProfile JSON) of the allocations of the next `seconds` (less if `signal` aborts) still alive at the end. */
export async function heapProfile(seconds: number, signal?: AbortSignal): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL_BYTES });
    await profileWindow(seconds, signal);
    const { profile } = await session.post('HeapProfiler.stopSampling');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

/** The same as gzipped pprof (`inuse_objects`, `inuse_space`). */
export async function pprofHeapProfile(seconds: number, signal?: AbortSignal): Promise<Buffer> {
  const { heap, encode } = datadogPprof();
  heap.start(SAMPLING_INTERVAL_BYTES, STACK_DEPTH);
  try {
    await profileWindow(seconds, signal);
    return await encode(heap.profile());
  } finally {
    heap.stop();
  }
}

/** A `.heapsnapshot`, written to the stream chunk by chunk. The process pauses while V8 takes it. */
export function heapSnapshot(onDone: (error?: unknown) => void): Readable {
  const out = new PassThrough();
  const session = new Session();
  session.connect();
  session.on('HeapProfiler.addHeapSnapshotChunk', (message) => out.write(message.params.chunk));
  session
    .post('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
    .then(
      () => onDone(),
      (error: unknown) => {
        out.destroy(error as Error);
        onDone(error);
      },
    )
    .finally(() => {
      session.disconnect();
      out.end();
    });
  return out;
}
