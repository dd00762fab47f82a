// CPU profiles of the live process, in two formats:
// - `.cpuprofile` (V8's own JSON, through the inspector protocol): Chrome DevTools and
//   speedscope open it as it is.
// - pprof (gzipped protobuf, through @datadog/pprof's wall-time profiler): `go tool pprof`,
//   Pyroscope and Grafana read it. Its samples carry the labels the request hook set
//   (profile-labels.ts): the route template and, for sampled traces, the trace id, so a
//   profile can be narrowed to one endpoint, or to the code one slow trace ran.
// Both sample the main thread from V8's profiler thread; the event loop keeps serving.
import { Session } from 'node:inspector/promises';
import { datadogPprof, ROUTE_LABEL, startLabelling } from './pprof-runtime.ts';
import { profileWindow } from './profile-window.ts';

/** pprof-format's Profile, as @datadog/pprof (CommonJS) builds it. */
type Profile = ReturnType<ReturnType<typeof datadogPprof>['time']['stop']>;

/** V8's sampling period, in µs: 1 ms, the profilers' usual default (the cost stays a few %). */
const SAMPLING_INTERVAL_US = 1000;

/** A `.cpuprofile` of the next `seconds` (less if `signal` aborts first), as JSON text. */
export async function cpuProfile(seconds: number, signal?: AbortSignal): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await session.post('Profiler.start');
    await profileWindow(seconds, signal);
    const { profile } = await session.post('Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

/**
 * A wall-time pprof profile of the next `seconds` (less if `signal` aborts first), its
 * samples labelled by the request hook. `route`: keep only the samples labelled with that
 * route template.
 */
export async function pprofCpuProfile(seconds: number, route?: string, signal?: AbortSignal): Promise<Buffer> {
  const { time, encode } = datadogPprof();
  // useCPED: the label context follows async work through Node 24's AsyncContextFrame, so a
  // request's awaits keep its labels; withContexts: samples carry that context.
  time.start({ intervalMicros: SAMPLING_INTERVAL_US, durationMillis: seconds * 1000, withContexts: true, useCPED: true });
  const stopLabels = startLabelling();
  let profile: Profile;
  try {
    await profileWindow(seconds, signal);
  } finally {
    stopLabels();
    profile = time.stop();
  }
  if (route !== undefined) keepRoute(profile, route);
  return encode(profile);
}

/** Drops every sample not labelled `route=<route>` (idle and unlabelled samples included). */
export function keepRoute(profile: Profile, route: string): void {
  const strings = profile.stringTable.strings;
  const key = strings.indexOf(ROUTE_LABEL);
  const value = strings.indexOf(route);
  profile.sample = key < 0 || value < 0 ? [] : profile.sample.filter((s) => s.label.some((l) => Number(l.key) === key && Number(l.str) === value));
}
