// What the pprof profilers and the request label hook share: the native @datadog/pprof
// module, loaded on the first pprof request only (a process that never profiles never maps
// it), the label keys, and whether a labelled profile runs now.
import { createRequire } from 'node:module';
import type * as DatadogPprofModule from '@datadog/pprof';

const require = createRequire(import.meta.url);
type DatadogPprof = typeof DatadogPprofModule;
let pprof: DatadogPprof | undefined;
export const datadogPprof = (): DatadogPprof => (pprof ??= require('@datadog/pprof') as DatadogPprof);

/** The label key a sample's route template is under, and its trace id's. */
export const ROUTE_LABEL = 'route';
export const TRACE_LABEL = 'trace_id';

// Process-wide, like the profiler itself.
let labelling = false;

export const isLabelling = (): boolean => labelling;

/** Marks a labelled profile as running; returns the function that ends it. */
export function startLabelling(): () => void {
  labelling = true;
  return () => {
    labelling = false;
  };
}
