// The deployment files, checked without a cluster or a Docker engine (neither runs here):
// - every Kubernetes manifest validates against the Kubernetes schemas (kubernetes-models, and
//   the Prometheus Operator's for the ServiceMonitor), and every file a kustomization names exists;
// - the Deployment wires the three probes to the CONTRACT's endpoints, and its timings add up
//   against the app's own (startup retries, readiness timeout, shutdown delay and deadline);
// - every variable the ConfigMap, the Secret and compose.yaml set exists in the config schema,
//   and the values pass the app's own validation (loadConfig), as a production start would;
// - the Dockerfile starts what `npm start` starts, as non-root, on a pinned Node 24;
// - compose.yaml pins every image, mounts only files that exist, depends only on its services;
// - the Collector configs wire only components they define, route by trace id, and sample tails.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { repoPath } from '../../ops/generate/index.ts';
import { ConfigSchema, loadConfig } from '../../src/config.ts';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read as plain data
type Any = any;

const MODELS: Record<string, new (data: Any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

const read = (path: string) => readFileSync(repoPath(path), 'utf8');
const docs = (path: string) => parseAllDocuments(read(path)).map((d) => d.toJS() as Manifest);

interface Kustomization {
  resources?: string[];
  configMapGenerator?: { name: string; files: string[] }[];
}
const KUSTOMIZATIONS = ['ops/k8s/base', 'ops/otel-collector'];
const manifests = KUSTOMIZATIONS.flatMap((dir) => {
  const k = parse(read(`${dir}/kustomization.yaml`)) as Kustomization;
  return (k.resources ?? []).flatMap((r) => docs(`${dir}/${r}`).map((m) => ({ file: `${dir}/${r}`, m })));
});
const secretExample = docs('ops/k8s/base/secret.example.yaml')[0]!;
const find = (kind: string, name: string) => manifests.find(({ m }) => m.kind === kind && m.metadata.name === name)?.m as Any;

/** OTEL_* variables are the OpenTelemetry spec's, read in src/observability/tracing. */
const tracingSource = readdirSync(repoPath('src/observability/tracing'))
  .map((f) => read(`src/observability/tracing/${f}`))
  .join('\n');
const knownVariable = (name: string) => name in ConfigSchema.properties || (name.startsWith('OTEL_') && tracingSource.includes(name));

describe('Kubernetes manifests', () => {
  it.each(KUSTOMIZATIONS)('%s/kustomization.yaml names files that exist', (dir) => {
    const k = parse(read(`${dir}/kustomization.yaml`)) as Kustomization;
    expect(k.resources?.length).toBeGreaterThan(0);
    for (const r of k.resources ?? []) expect(existsSync(repoPath(`${dir}/${r}`)), r).toBe(true);
    for (const g of k.configMapGenerator ?? []) for (const f of g.files) expect(existsSync(repoPath(`${dir}/${f.split('=').pop()!}`)), f).toBe(true);
  });

  it.each([...manifests, { file: 'ops/k8s/base/secret.example.yaml', m: secretExample }].map(({ file, m }) => [`${file} ${m.kind}/${m.metadata.name}`, m]))(
    '%s validates against its schema',
    (_name, m) => {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model, `no schema for ${m.apiVersion} ${m.kind}`).toBeDefined();
      expect(() => new Model!(m).validate()).not.toThrow();
    },
  );

  it('a broken manifest fails the schema (the check bites)', () => {
    const broken = structuredClone(find('Deployment', 'glassbox'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
  });

  const deployment = find('Deployment', 'glassbox');
  const container = deployment.spec.template.spec.containers[0];
  const config = find('ConfigMap', 'glassbox-config').data as Record<string, string>;

  it('wires the three probes to the CONTRACT endpoints on the container port', () => {
    expect(container.startupProbe.httpGet.path).toBe('/health/startup');
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) expect(probe.httpGet.port).toBe('http');
    expect(container.ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: Number(config.PORT) }));
  });

  it("gives the app's own timings room: startup retries, readiness timeout, shutdown", () => {
    const c = loadConfig({ ...config, ...(secretExample as Any).stringData });
    // Startup: every connection attempt times out and every pause is the longest.
    const startupWorstMs = c.STARTUP_ATTEMPTS * c.STARTUP_CONNECT_TIMEOUT_MS + (c.STARTUP_ATTEMPTS - 1) * c.STARTUP_RETRY_MAX_MS;
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold * 1000).toBeGreaterThan(startupWorstMs);
    // Readiness answers within one check timeout (checks run concurrently).
    expect(container.readinessProbe.timeoutSeconds * 1000).toBeGreaterThan(c.HEALTH_CHECK_TIMEOUT_MS);
    // Shutdown: preStop sleep, then the app's delay and its own deadline, all before SIGKILL.
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const preStopMs = Number(preStop[1]) * 1000;
    const shutdownDelayMs = c.shutdownDelayMs;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopMs + shutdownDelayMs + c.SHUTDOWN_TIMEOUT_MS);
  });

  it('sets only variables the app reads, with values its validation accepts', () => {
    const named = [
      ...Object.keys(config),
      ...container.env.map((e: { name: string }) => e.name),
      ...Object.keys((secretExample as Any).stringData),
      ...deployment.spec.template.spec.initContainers[0].env.map((e: { name: string }) => e.name),
    ];
    for (const name of named) expect(knownVariable(name), name).toBe(true);
    const secretKeys = Object.keys((secretExample as Any).stringData);
    for (const e of container.env) if (e.valueFrom?.secretKeyRef) expect(secretKeys).toContain(e.valueFrom.secretKeyRef.key);
    const c = loadConfig({ ...config, ...(secretExample as Any).stringData });
    expect(c.APP_ENV).toBe('production');
    expect(c.HOST).toBe('0.0.0.0');
  });

  it('runs as non-root on a read-only root filesystem, migrating in an init container', () => {
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.spec.template.spec.initContainers[0].command).toEqual(['node', 'src/migrate.ts']);
  });

  it('scrapes /metrics by ServiceMonitor and by annotation, as job "glassbox"', () => {
    const sm = find('ServiceMonitor', 'glassbox');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    expect(sm.spec.jobLabel).toBe('app.kubernetes.io/name');
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('glassbox');
    expect(deployment.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(/\s+/);

  it('is multi-stage on an exact Node 24 release, and runs as the node user', () => {
    const image = /ARG NODE_IMAGE=node:(\d+)\.(\d+)\.(\d+)-bookworm-slim/.exec(dockerfile);
    expect(image, 'an exact node:24.x.y image').not.toBeNull();
    expect(Number(image![1])).toBe(24);
    expect(Number(image![2])).toBeGreaterThanOrEqual(12);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
  });

  it("starts with exactly `npm start`'s node arguments", () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd).toEqual(start);
  });

  it('copies what the process loads, and .dockerignore lets it through', () => {
    for (const dir of ['src', 'db']) expect(dockerfile).toContain(`COPY --chown=root:root ${dir} ./${dir}`);
    const ignore = read('.dockerignore');
    for (const kept of ['!package.json', '!package-lock.json', '!src/', '!db/']) expect(ignore).toContain(kept);
  });
});

describe('compose.yaml', () => {
  const compose = parse(read('compose.yaml')) as { services: Record<string, Any> };
  const services = Object.entries(compose.services);

  it('pins every image it pulls to an exact version', () => {
    for (const [name, s] of services) {
      if (s.build || s.image === 'glassbox:local') continue; // built from this repository
      // PostgreSQL's own versions have two parts (15.10 is a patch release); everything else three.
      const exact = s.image.startsWith('postgres:') ? /^postgres:\d+\.\d+$/ : /^[\w./-]+(:v?\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$/;
      expect(s.image, name).toMatch(exact);
    }
  });

  it('mounts only files and directories of this repository that exist', () => {
    let mounts = 0;
    for (const [, s] of services) {
      for (const volume of (s.volumes ?? []) as string[]) {
        const host = volume.split(':')[0]!;
        if (!host.startsWith('./')) continue; // a named volume
        mounts++;
        expect(existsSync(repoPath(host)), host).toBe(true);
      }
    }
    expect(mounts).toBeGreaterThanOrEqual(7);
  });

  it('depends only on its own services, and brings up the whole stack', () => {
    for (const [name, s] of services) for (const dep of Object.keys(s.depends_on ?? {})) expect(compose.services, `${name} → ${dep}`).toHaveProperty(dep);
    expect(Object.keys(compose.services).sort()).toEqual([
      'alertmanager',
      'glassbox',
      'grafana',
      'migrate',
      'otel-collector',
      'postgres',
      'prometheus',
      'redis',
      'tempo',
    ]);
  });

  it('gives Glassbox variables the app reads, with values its validation accepts', () => {
    const env = compose.services.glassbox.environment as Record<string, string>;
    for (const name of Object.keys(env)) expect(knownVariable(name), name).toBe(true);
    expect(loadConfig(env).APP_ENV).toBe('production');
  });
});

describe('OpenTelemetry Collector configs', () => {
  const configs = ['ops/otel-collector/agent.yaml', 'ops/otel-collector/gateway.yaml', 'ops/compose/otel-collector.yaml'];

  it.each(configs)('%s wires only components it defines', (file) => {
    const c = parse(read(file)) as Any;
    const pipelines = Object.values(c.service.pipelines) as { receivers: string[]; processors?: string[]; exporters: string[] }[];
    expect(pipelines.length).toBeGreaterThan(0);
    for (const p of pipelines) {
      for (const r of p.receivers) expect(c.receivers, r).toHaveProperty([r]);
      for (const x of p.processors ?? []) expect(c.processors, x).toHaveProperty([x]);
      for (const e of p.exporters) expect(c.exporters, e).toHaveProperty([e]);
    }
    for (const ext of c.service.extensions ?? []) expect(c.extensions).toHaveProperty([ext]);
  });

  it('the agent routes spans by trace id to the gateway tier', () => {
    const c = parse(read('ops/otel-collector/agent.yaml')) as Any;
    expect(c.exporters.loadbalancing.routing_key).toBe('traceID');
    expect(c.exporters.loadbalancing.resolver.dns.hostname).toMatch(/^otel-gateway-headless\./);
  });

  it.each(['ops/otel-collector/gateway.yaml', 'ops/compose/otel-collector.yaml'])('%s keeps errors, slow traces and a share, drops probes', (file) => {
    const c = parse(read(file)) as Any;
    const policies = c.processors.tail_sampling.policies as Any[];
    expect(policies.find((p) => p.type === 'status_code').status_code.status_codes).toEqual(['ERROR']);
    expect(policies.find((p) => p.type === 'latency').latency.threshold_ms).toBe(500);
    expect(policies.find((p) => p.type === 'probabilistic').probabilistic.sampling_percentage).toBe(10);
    const filter = c.processors['filter/probes'].traces.span.join(' ');
    expect(filter).toContain('/health/');
    expect(filter).toContain('/metrics');
    const processors = c.service.pipelines.traces.processors as string[];
    expect(processors.indexOf('filter/probes')).toBeLessThan(processors.indexOf('tail_sampling'));
  });
});
