// The environment: the CONTRACT's defaults, one ConfigError naming a bad variable (without
// echoing its value), production's refusals, and `node src/main.ts` stopping at once on a bad value.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const ROOT = new URL('..', import.meta.url).pathname;

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the CONTRACT defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      APP_ENV: 'development',
      DATABASE_POOL_SIZE: 10,
      SLOW_QUERY_MS: 1000,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      METRICS_ENABLED: true,
      METRICS_MAX_TENANTS: 100,
      PAYMENT_SIMULATOR_LATENCY_MS: 0,
      PAYMENT_SIMULATOR_FAILURE_RATE: 0,
    });
    for (const unset of ['DATABASE_URL', 'REDIS_URL', 'SENTRY_DSN', 'ADMIN_TOKEN', 'PAYMENT_GATEWAY_URL', 'JWT_SECRET']) {
      expect(config[unset as keyof typeof config], unset).toBeUndefined();
    }
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('generates a random JWT secret per start in development when none is given', () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.jwtSecretGenerated).toBe(true);
    expect(a.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(a.jwtSecret).not.toBe(b.jwtSecret);
  });

  it('reads given values, converted to their types', () => {
    const config = loadConfig({
      PORT: ' 8080 ',
      HOST: '0.0.0.0',
      APP_ENV: 'test',
      DATABASE_URL: 'postgres://u@db:5432/app',
      DATABASE_POOL_SIZE: '25',
      REDIS_URL: 'redis://cache:6379',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
      METRICS_ENABLED: 'false',
      METRICS_MAX_TENANTS: '7',
      PAYMENT_SIMULATOR_FAILURE_RATE: '0.25',
      JWT_SECRET: 's'.repeat(40),
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      APP_ENV: 'test',
      DATABASE_URL: 'postgres://u@db:5432/app',
      DATABASE_POOL_SIZE: 25,
      REDIS_URL: 'redis://cache:6379',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
      METRICS_ENABLED: false,
      METRICS_MAX_TENANTS: 7,
      PAYMENT_SIMULATOR_FAILURE_RATE: 0.25,
      jwtSecret: 's'.repeat(40),
      jwtSecretGenerated: false,
    });
    expect(loadConfig({ METRICS_ENABLED: 'true' }).METRICS_ENABLED).toBe(true);
    expect(loadConfig({ WORKER_ENABLED: 'false' }).WORKER_ENABLED).toBe(false);
    expect(loadConfig({ WORKER_ENABLED: 'true' }).WORKER_ENABLED).toBe(true);
    expect(loadConfig({}).WORKER_ENABLED).toBe(true);
    expect(loadConfig({ LOG_LEVEL: 'fatal' }).LOG_LEVEL).toBe('fatal');
    expect(loadConfig({ SENTRY_TRACES_SAMPLE_RATE: '.5' }).SENTRY_TRACES_SAMPLE_RATE).toBe(0.5);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' })).toMatchObject({ PORT: 3000, LOG_LEVEL: 'info' });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '0x10'],
    ['PORT', '8080abc'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_FORMAT', 'xml'],
    ['APP_ENV', 'staging'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_POOL_SIZE', '0'],
    ['WORKER_ENABLED', 'nope'],
    ['REDIS_URL', 'memcached://cache:11211'],
    ['METRICS_ENABLED', 'maybe'],
    ['METRICS_MAX_TENANTS', 'lots'],
    ['PAYMENT_SIMULATOR_FAILURE_RATE', '2'],
    ['PAYMENT_SIMULATOR_FAILURE_RATE', '-0.1'],
    ['SENTRY_TRACES_SAMPLE_RATE', '1.5'],
    ['JWT_SECRET', 'too-short-secret-xyz'],
    ['ADMIN_TOKEN', 'short-adm'],
  ])('refuses %s=%s with a ConfigError naming the variable and not echoing the value', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message).toContain(name);
    expect(error.message).not.toContain('\n');
    // The message does not depend on the value: it says what is expected, never what was given.
    expect(error.message).toBe(configError({ [name]: 'zz' }).message);
    if (value.length > 2) expect(error.message).not.toContain(value);
  });

  it('names the bad variable even when others are valid', () => {
    expect(configError({ PORT: '8080', LOG_LEVEL: 'debug', SLOW_QUERY_MS: 'slow' }).variable).toBe('SLOW_QUERY_MS');
  });

  describe('APP_ENV=production', () => {
    const secret = 'p'.repeat(48);
    it('refuses the embedded database (no DATABASE_URL)', () => {
      const error = configError({ APP_ENV: 'production', JWT_SECRET: secret });
      expect(error.variable).toBe('DATABASE_URL');
      expect(error.message).toContain('DATABASE_URL');
    });

    it('refuses a missing JWT_SECRET', () => {
      const error = configError({ APP_ENV: 'production', DATABASE_URL: 'postgres://db/app' });
      expect(error.variable).toBe('JWT_SECRET');
      expect(error.message).toContain('JWT_SECRET');
    });

    it('starts with both set, and never generates a secret', () => {
      const config = loadConfig({ APP_ENV: 'production', DATABASE_URL: 'postgres://db/app', JWT_SECRET: secret });
      expect(config.jwtSecretGenerated).toBe(false);
      expect(config.jwtSecret).toBe(secret);
    });
  });
});

describe('node src/main.ts with an invalid variable', () => {
  function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn(process.execPath, ['src/main.ts'], {
        cwd: ROOT,
        // A minimal environment: nothing of the runner's (DATABASE_URL, NODE_OPTIONS…) leaks in.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  it('exits 1 with exactly one stderr line naming PORT, before touching any database', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'glassbox-config-')), 'data');
    try {
      const result = await run({ PORT: 'abc', DATA_DIR: dataDir, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/never' });
      expect(result.code).toBe(1);
      const lines = result.stderr.split('\n').filter((l) => l.length > 0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('PORT');
      expect(lines[0]).not.toContain('abc');
      expect(result.stdout).toBe('');
      // No embedded database was started (it would have created DATA_DIR) and no connection was tried.
      expect(existsSync(dataDir)).toBe(false);
      expect(result.stderr + result.stdout).not.toContain('dependency_unavailable');
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  it('also stops on a production start without JWT_SECRET', async () => {
    const result = await run({ APP_ENV: 'production', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/never' });
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('JWT_SECRET');
  });
});
