// `overload_started` (warn, with the reason) and `overload_ended` (info, how long and how many
// requests were refused) bracket each overload episode, so on-call finds in the logs when and
// why the service shed load.
//
// Why every observer reports here, not one timer of our own: @fastify/under-pressure takes
// its readings on a timer it re-arms after each sample, so a timer of ours with the same
// period drifts against it. A reading over the limit that lasts one sample could then fall
// between two of our looks: requests refused, readiness failing, and no episode logged. So
// the episode starts at whichever sees the pressure first (the periodic look, a shed request,
// a readiness probe) and ends at the first look that finds the readings calm again.
import type { Logger } from '../logging/logger.ts';

export class OverloadEpisodes {
  private readonly log: Logger;
  private since: number | undefined;
  private refused = 0;

  constructor(log: Logger) {
    this.log = log;
  }

  /** A reading over a limit, seen by anyone: starts an episode unless one is running. */
  over(reason: string): void {
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.log.warn({ reason }, 'overload_started');
  }

  /** A request answered 503 because of the pressure (only ever after over()). */
  shed(): void {
    this.refused++;
  }

  /** A calm reading: ends the running episode, if any. */
  calm(): void {
    if (this.since === undefined) return;
    this.log.info({ duration_ms: Date.now() - this.since, shed_requests: this.refused }, 'overload_ended');
    this.since = undefined;
    this.refused = 0;
  }
}
