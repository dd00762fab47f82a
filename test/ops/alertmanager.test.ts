// ops/alertmanager/alertmanager.yml in a real Alertmanager (Debian's prometheus-alertmanager,
// on loopback, its webhooks pointed at a receiver of this test): a page reaches the pager
// receiver and a ticket the tickets receiver, and while GlassboxInstanceDown fires, the same
// job's GlassboxHighLatency is inhibited (never sent) while another job's is not.
// Needs the package: skipped with a warning without it, failing when GLASSBOX_REQUIRE_PROMETHEUS=1 (CI).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../ops/generate/index.ts';
import { freePort } from '../helpers/child-server.ts';
import { runsWith } from '../helpers/metrics.ts';

const BINARY = '/usr/bin/prometheus-alertmanager';
const installed = (() => {
  try {
    accessSync(BINARY, constants.X_OK);
    return BINARY;
  } catch {
    return undefined;
  }
})();

interface Delivery {
  receiver: string;
  alerts: { labels: Record<string, string> }[];
}

describe.runIf(runsWith(installed, 'real Alertmanager'))('a real Alertmanager with ops/alertmanager/alertmanager.yml', () => {
  let child: ChildProcess | undefined;
  let webhook: Server | undefined;
  let url = '';
  const dir = mkdtempSync(join(tmpdir(), 'glassbox-alertmanager-'));
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        deliveries.push(JSON.parse(body) as Delivery);
        res.end();
      });
    });
    await new Promise<void>((resolve) => webhook!.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
    // The committed file, with its placeholder webhooks pointed here and no waiting to group.
    const config = readFileSync(repoPath('ops/alertmanager/alertmanager.yml'), 'utf8')
      .replaceAll('http://127.0.0.1:9095', hook)
      .replace('group_wait: 30s', 'group_wait: 1s');
    expect(config).toContain(hook);
    writeFileSync(join(dir, 'alertmanager.yml'), config);
    const port = await freePort();
    child = spawn(
      installed ?? BINARY,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (
      !(await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('alertmanager did not start');
      await sleep(100);
    }
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const alert = (labels: Record<string, string>) => ({ labels: { service: 'glassbox', ...labels }, annotations: { summary: labels.alertname } });

  it("routes by severity and inhibits a down job's latency alert", async () => {
    const res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert({ alertname: 'GlassboxInstanceDown', severity: 'page', job: 'glassbox', instance: 'a:3000' }),
        alert({ alertname: 'GlassboxHighLatency', severity: 'ticket', job: 'glassbox' }),
        alert({ alertname: 'GlassboxHighLatency', severity: 'ticket', job: 'other' }),
        alert({ alertname: 'GlassboxEventLoopLagHigh', severity: 'ticket', job: 'glassbox', instance: 'b:3000' }),
      ]),
    });
    expect(res.status).toBe(200);

    const deadline = Date.now() + 15_000;
    const sent = () => deliveries.flatMap((d) => d.alerts.map((a) => `${d.receiver} ${a.labels.alertname} ${a.labels.job}`));
    while (sent().length < 3 && Date.now() < deadline) await sleep(200);
    await sleep(1_500); // anything that should not come would have come by now
    expect(sent().sort()).toEqual(
      ['pager GlassboxInstanceDown glassbox', 'tickets GlassboxEventLoopLagHigh glassbox', 'tickets GlassboxHighLatency other'].sort(),
    );

    const state = (await (await fetch(`${url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { inhibitedBy: string[] } }[];
    const latency = state.find((a) => a.labels.alertname === 'GlassboxHighLatency' && a.labels.job === 'glassbox');
    expect(latency?.status.inhibitedBy.length).toBe(1);
  }, 30_000);
});
