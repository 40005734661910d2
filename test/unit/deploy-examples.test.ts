/**
 * The shipped deployment examples (deploy/several-origins) stay true to the code: every TRIBUNE_*
 * variable they set is read by configFromEnv, compose runs only known subcommands, edges list every
 * origin, origins share one token secret, database, Redis and data volume, and what compose mounts
 * exists. The compose file is written in plain block YAML; parseBlockYaml reads that subset only
 * (and throws on anything else) so no YAML library is needed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv, loadConfig } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIR = path.join(ROOT, 'deploy/several-origins');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');
const CONFIG_SOURCE = read('src/config.ts');

/** The several-origins settings (issue 8), read by src/config.ts like the others. */
const CLUSTER_VARS = ['TRIBUNE_SELF_URL', 'TRIBUNE_ORIGIN_ID', 'TRIBUNE_LEASE_MS'];

type Yaml = string | Yaml[] | { [k: string]: Yaml };

/** Block-style YAML: maps, lists of scalars, quoted or plain scalars; flow lists stay raw strings. */
function parseBlockYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, i) => ({ n: i + 1, indent: raw.length - raw.trimStart().length, text: raw.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
  let pos = 0;
  const scalar = (s: string): string => {
    const q = /^'(.*)'$/.exec(s) ?? /^"(.*)"$/.exec(s);
    return q ? q[1]! : s;
  };
  const block = (indent: number): Yaml => {
    const first = lines[pos]!;
    if (first.text.startsWith('- ')) {
      const list: Yaml[] = [];
      while (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- '))
        list.push(scalar(lines[pos++]!.text.slice(2).trim()));
      return list;
    }
    const map: { [k: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const l = lines[pos++]!;
      const m = /^([\w.-]+):(?: (.*))?$/.exec(l.text);
      if (!m) throw new Error(`line ${l.n}: not in the supported YAML subset: ${l.text}`);
      if (m[2] !== undefined) map[m[1]!] = scalar(m[2]);
      else if (pos < lines.length && lines[pos]!.indent > indent) map[m[1]!] = block(lines[pos]!.indent);
      else map[m[1]!] = {};
    }
    if (pos < lines.length && lines[pos]!.indent > indent)
      throw new Error(`line ${lines[pos]!.n}: unexpected indentation`);
    return map;
  };
  return block(0);
}

const asMap = (y: Yaml | undefined): { [k: string]: Yaml } =>
  y && typeof y === 'object' && !Array.isArray(y) ? y : {};
const asList = (y: Yaml | undefined): string[] => (Array.isArray(y) ? (y as string[]) : []);
const asString = (y: Yaml | undefined): string => (typeof y === 'string' ? y : '');
/** `['origin']` -> ['origin'] (flow lists of quoted strings). */
const flowList = (s: string): string[] => [...s.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]!);

const compose = asMap(parseBlockYaml(readFileSync(path.join(DIR, 'docker-compose.yml'), 'utf8')));
const services = asMap(compose.services);
const env = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(asMap(asMap(services[name]).environment)).map(([k, v]) => [k, asString(v)]),
  );
const commandOf = (name: string): string[] => flowList(asString(asMap(services[name]).command));
const origins = Object.keys(services).filter((s) => commandOf(s)[0] === 'origin');
const edges = Object.keys(services).filter((s) => commandOf(s)[0] === 'edge');

/** KEY=value lines of an env file. */
function envFile(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** `${VAR:?msg}`, `${VAR:-default}`, `${VAR}` -> a sample value (or the default when there is one). */
const interpolate = (v: string): string =>
  v.replace(
    /\$\{(\w+)(?::([?-])([^}]*))?\}/g,
    (_m, _name, op: string | undefined, arg: string | undefined) =>
      op === '-' ? (arg ?? '') : 'sample-secret',
  );

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Every TRIBUNE_* name in any file under deploy/several-origins, with a value found for it. */
const shippedVars = new Map<string, string>();
for (const file of filesUnder(DIR)) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/\bTRIBUNE_[A-Z0-9_]*[A-Z0-9]\b/g))
    if (!shippedVars.has(m[0])) shippedVars.set(m[0], '');
  for (const m of text.matchAll(/^\s*(TRIBUNE_[A-Z0-9_]+)(?:=|: )'?([^'\n]*)'?$/gm))
    if (m[2] && !m[2].startsWith('${')) shippedVars.set(m[1]!, m[2]);
}

describe('deploy/several-origins', () => {
  it('parses, and has at least two origins and two edges', () => {
    expect(origins.length).toBeGreaterThanOrEqual(2);
    expect(edges.length).toBeGreaterThanOrEqual(2);
    expect(shippedVars.size).toBeGreaterThan(5);
  });

  describe('every TRIBUNE_* variable it names is read by configFromEnv (src/config.ts)', () => {
    const names = [...new Set([...shippedVars.keys(), ...CLUSTER_VARS])].sort();
    it.each(names)('%s', (name) => {
      const expected = CLUSTER_VARS.includes(name) ? ' (expected in src/config.ts for several origins)' : '';
      expect(
        CONFIG_SOURCE.includes(`env.${name}`),
        `src/config.ts does not read env.${name}${expected}`,
      ).toBe(true);
      const sample = shippedVars.get(name) || 'sample';
      expect(JSON.stringify(configFromEnv({ [name]: sample })), `${name}=${sample} changes nothing`).not.toBe(
        JSON.stringify(configFromEnv({})),
      );
    });
  });

  it('each Tribune service environment is a valid config', () => {
    for (const s of [...origins, ...edges]) {
      const vars = Object.fromEntries(Object.entries(env(s)).map(([k, v]) => [k, interpolate(v)]));
      expect(() => loadConfig(configFromEnv(vars)), s).not.toThrow();
    }
    for (const f of ['origin-1.env', 'edge-1.env'])
      expect(() => loadConfig(configFromEnv(envFile(path.join(DIR, 'systemd', f)))), f).not.toThrow();
  });

  it('compose runs only subcommands src/cli.ts knows', () => {
    const known = /\[([^\]]*)\]\.includes\(command\)/.exec(read('src/cli.ts'));
    expect(known, 'the command list in src/cli.ts').not.toBeNull();
    const commands = flowList(known![1]!);
    expect(commands).toEqual(expect.arrayContaining(['origin', 'edge']));
    for (const s of [...origins, ...edges]) {
      expect(commands, s).toContain(commandOf(s)[0]);
      expect(asString(asMap(services[s]).image), s).toBe('tribune:local');
    }
  });

  it("every edge's TRIBUNE_ORIGIN_URL lists every origin, at its TRIBUNE_SELF_URL", () => {
    const selfUrls = origins.map((o) => env(o).TRIBUNE_SELF_URL);
    origins.forEach((o, i) => expect(selfUrls[i], o).toBe(`http://${o}:${env(o).PORT}`));
    for (const e of edges) expect(env(e).TRIBUNE_ORIGIN_URL?.split(',').sort(), e).toEqual(selfUrls.sort());
    const systemdEdge = envFile(path.join(DIR, 'systemd/edge-1.env')).TRIBUNE_ORIGIN_URL?.split(',');
    expect(systemdEdge).toContain(envFile(path.join(DIR, 'systemd/origin-1.env')).TRIBUNE_SELF_URL);
  });

  it('origins and edges share one TRIBUNE_TOKEN_SECRET reference; origins one database, Redis and data volume', () => {
    const secrets = new Set([...origins, ...edges].map((s) => env(s).TRIBUNE_TOKEN_SECRET));
    expect([...secrets]).toHaveLength(1);
    expect([...secrets][0]).toMatch(/^\$\{TRIBUNE_TOKEN_SECRET:\?/);
    for (const key of ['TRIBUNE_DATABASE_URL', 'TRIBUNE_REDIS_URL', 'TRIBUNE_DATA_DIR', 'TRIBUNE_LEASE_MS']) {
      const values = origins.map((o) => env(o)[key]);
      expect(values.every(Boolean), key).toBe(true); // set on every origin...
      expect(new Set(values).size, key).toBe(1); // ...to the same value
    }
    const ids = origins.map((o) => env(o).TRIBUNE_ORIGIN_ID);
    expect(new Set(ids).size).toBe(origins.length);
    const mounts = new Set(
      origins.map((o) =>
        asList(asMap(services[o]).volumes).find((v) => v.endsWith(`:${env(o).TRIBUNE_DATA_DIR}`)),
      ),
    );
    expect(mounts.size).toBe(1);
    const volume = [...mounts][0]?.split(':')[0] ?? '';
    expect(Object.keys(asMap(compose.volumes))).toContain(volume);
    const systemd = envFile(path.join(DIR, 'systemd/origin-1.env'));
    expect(envFile(path.join(DIR, 'systemd/edge-1.env')).TRIBUNE_TOKEN_SECRET).toBe(
      systemd.TRIBUNE_TOKEN_SECRET,
    );
  });

  it('every service restarts unless stopped; origins and edges have a /healthz healthcheck', () => {
    for (const [name, s] of Object.entries(services))
      expect(asString(asMap(s).restart), name).toBe('unless-stopped');
    for (const s of [...origins, ...edges]) {
      const test = asList(asMap(asMap(services[s]).healthcheck).test).join(' ');
      expect(test, s).toContain(`127.0.0.1:${env(s).PORT}/healthz`);
    }
  });

  it("nginx gets the shipped deploy/nginx/tribune-edge.conf, its upstream pointed at the compose's edges", () => {
    const nginx = asMap(services.nginx);
    for (const v of asList(nginx.volumes))
      expect(existsSync(path.resolve(DIR, v.split(':')[0]!)), v).toBe(true);
    expect(asList(nginx.volumes).some((v) => v.startsWith('../nginx/tribune-edge.conf:'))).toBe(true);
    const script = readFileSync(path.join(DIR, 'nginx/start.sh'), 'utf8');
    const line = /^line='(.*)'$/m.exec(script)?.[1];
    expect(line).toBeDefined();
    expect(read('deploy/nginx/tribune-edge.conf').split('\n')).toContain(line);
    expect(asString(asMap(nginx.environment).EDGES).split(' ').sort()).toEqual(
      edges.map((e) => `${e}:${env(e).PORT}`).sort(),
    );
  });

  it('systemd units run the right subcommand with their instance env file and writable data dir', () => {
    const unit = (n: string): string => readFileSync(path.join(DIR, 'systemd', n), 'utf8');
    const origin = unit('tribune-origin@.service');
    const edge = unit('tribune-edge@.service');
    expect(origin).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/tribune\/dist\/cli\.js origin$/m);
    expect(edge).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/tribune\/dist\/cli\.js edge$/m);
    for (const u of [origin, edge]) {
      expect(u).toMatch(/^EnvironmentFile=\/etc\/tribune\/%i\.env$/m);
      expect(u).toMatch(/^Restart=always$/m);
      expect(u).toMatch(/^StartLimitBurst=\d+$/m);
      expect(u).toMatch(/^NoNewPrivileges=yes$/m);
      expect(u).toMatch(/^ProtectSystem=strict$/m);
    }
    expect(edge).toMatch(/^LimitNOFILE=1048576$/m);
    const dataDir = envFile(path.join(DIR, 'systemd/origin-1.env')).TRIBUNE_DATA_DIR;
    expect(origin).toContain(`\nReadWritePaths=${dataDir}\n`);
  });
});
