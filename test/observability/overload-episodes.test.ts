// OverloadEpisodes: one overload_started per episode whoever sees the pressure first (the
// periodic look, a shed request, a readiness probe), overload_ended with the requests shed
// in that episode only. The plugin's own test (overload.test.ts) shows the lines under a real
// lagging event loop; this one pins the bookkeeping, including the case that once went
// unlogged: a one-sample episode that the periodic look never saw but requests were shed in.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/index.ts';
import { OverloadEpisodes } from '../../src/observability/overload/overload-episodes.ts';
import { LogCapture } from '../helpers/test-app.ts';

function episodes() {
  const logs = new LogCapture();
  return { logs, episodes: new OverloadEpisodes(createLogger({ level: 'info', format: 'json', destination: logs })) };
}

describe('OverloadEpisodes', () => {
  it('a shed request starts the episode when no look has seen the pressure; the next calm look ends it', () => {
    const { logs, episodes: e } = episodes();
    e.over('event loop delay 120 ms over the 50 ms limit'); // from the shedding hook
    e.shed();
    e.over('event loop delay 130 ms over the 50 ms limit'); // the next shed request
    e.shed();
    expect(logs.find('overload_started')).toEqual([expect.objectContaining({ level: 'warn', reason: 'event loop delay 120 ms over the 50 ms limit' })]);
    e.calm();
    expect(logs.find('overload_ended')).toEqual([expect.objectContaining({ level: 'info', shed_requests: 2, duration_ms: expect.any(Number) })]);
  });

  it('counts each episode on its own and logs nothing for calm without an episode', () => {
    const { logs, episodes: e } = episodes();
    e.calm();
    expect(logs.lines).toEqual([]);
    e.over('rss 300 MB over the 256 MB limit'); // a look or a probe, nothing shed
    e.calm();
    e.calm();
    e.over('heap used 200 MB over the 128 MB limit');
    e.shed();
    e.calm();
    expect(logs.lines.map((l) => [l.message, l.reason ?? l.shed_requests])).toEqual([
      ['overload_started', 'rss 300 MB over the 256 MB limit'],
      ['overload_ended', 0],
      ['overload_started', 'heap used 200 MB over the 128 MB limit'],
      ['overload_ended', 1],
    ]);
  });
});
