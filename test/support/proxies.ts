/**
 * Real nginx and Varnish in front of an edge, for integration tests: each starts from the config
 * shipped in deploy/ (deploy/nginx/tribune-edge.conf, deploy/varnish/tribune.vcl) with only the
 * edge address, the listen address and file paths swapped for temporary ones, in its own temp dir,
 * on 127.0.0.1. stop() ends the process it started (by pid) and removes the dir.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REPO_ROOT } from './server.js';

export const NGINX_CONF = path.join(REPO_ROOT, 'deploy/nginx/tribune-edge.conf');
export const VARNISH_VCL = path.join(REPO_ROOT, 'deploy/varnish/tribune.vcl');

export interface ProxyHandle {
  name: 'nginx' | 'varnish';
  /** http://127.0.0.1:PORT */
  url: string;
  dir: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Replaces `from` in `text`, which must occur exactly once (the shipped file changed shape otherwise). */
export function replaceOnce(text: string, from: string, to: string, file: string): string {
  const at = text.indexOf(from);
  if (at === -1 || text.indexOf(from, at + from.length) !== -1)
    throw new Error(`${file}: expected exactly one "${from}"`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Debian puts nginx and varnishd in /usr/sbin, often not in a user's PATH. */
const sbin = (name: string): string => (existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name);

const running = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  // nginx's master stops its workers on SIGTERM; varnishd's manager stops its child.
  process.on('exit', () => {
    for (const c of running) c.kill('SIGTERM');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

/** A temp dir removed by `removeDir`, or when this process exits. */
function tempDir(prefix: string): string {
  hook();
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

async function launch(
  name: ProxyHandle['name'],
  dir: string,
  port: number,
  cmd: string,
  args: string[],
): Promise<ProxyHandle> {
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let log = '';
  const append = (d: Buffer): void => {
    log = (log + d.toString()).slice(-100_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    removeDir(dir);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${name} exited at start:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not answering /healthz at ${url}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, url, dir, logs: () => log, stop };
}

/**
 * nginx (Debian's 1.22) with deploy/nginx/tribune-edge.conf in front of the edge on `edgePort`;
 * `edit` changes the shipped file first (to measure what a directive is for).
 */
export async function startNginx(edgePort: number, edit?: (conf: string) => string): Promise<ProxyHandle> {
  const dir = tempDir('tribune-nginx-');
  try {
    return await launchNginx(dir, edgePort, edit);
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

async function launchNginx(
  dir: string,
  edgePort: number,
  edit?: (conf: string) => string,
): Promise<ProxyHandle> {
  const port = await freePort();
  let conf = readFileSync(NGINX_CONF, 'utf8');
  if (edit) conf = edit(conf);
  const f = 'tribune-edge.conf';
  conf = replaceOnce(conf, 'server 127.0.0.1:8081 ', `server 127.0.0.1:${edgePort} `, f);
  conf = replaceOnce(conf, 'listen 80', `listen 127.0.0.1:${port}`, f);
  conf = replaceOnce(conf, '/var/cache/nginx/tribune ', `${dir}/cache `, f);
  conf = replaceOnce(conf, '/var/log/nginx/tribune-access.log', `${dir}/access.log`, f);
  writeFileSync(path.join(dir, f), conf);
  mkdirSync(path.join(dir, 'tmp'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`)
    .join('\n');
  // As root the workers would switch to `nobody`, which cannot enter the 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 4096; }
http {
${temp}
  include ${dir}/${f};
}
`,
  );
  return launch('nginx', dir, port, sbin('nginx'), [
    '-p',
    dir,
    '-c',
    `${dir}/nginx.conf`,
    '-e',
    `${dir}/error.log`,
  ]);
}

/** varnishd (Debian's 7.1) with deploy/varnish/tribune.vcl in front of the edge on `edgePort` (`edit`: as startNginx). */
export async function startVarnish(
  edgePort: number,
  edit?: (vcl: string) => string,
): Promise<ProxyHandle & { stat(name: string): number }> {
  const dir = tempDir('tribune-varnish-');
  try {
    return await launchVarnish(dir, edgePort, edit);
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

async function launchVarnish(
  dir: string,
  edgePort: number,
  edit?: (vcl: string) => string,
): Promise<ProxyHandle & { stat(name: string): number }> {
  const port = await freePort();
  let vcl = readFileSync(VARNISH_VCL, 'utf8');
  if (edit) vcl = edit(vcl);
  vcl = replaceOnce(vcl, '.port = "8081";', `.port = "${edgePort}";`, 'tribune.vcl');
  writeFileSync(path.join(dir, 'tribune.vcl'), vcl);
  // -F: in the foreground (stop() signals this pid). -j none: no privilege separation; as root the
  // default jail would switch to the package's `varnish`/`vcache` users, which cannot read this
  // 0700 temp dir (nor exist without the Debian package); as another user it changes nothing.
  const work = path.join(dir, 'work');
  const handle = await launch('varnish', dir, port, sbin('varnishd'), [
    '-F',
    '-j',
    'none',
    '-n',
    work,
    '-a',
    `127.0.0.1:${port}`,
    '-f',
    path.join(dir, 'tribune.vcl'),
    '-s',
    'malloc,64m',
  ]);
  return {
    ...handle,
    /** A counter or gauge from varnishstat, e.g. MAIN.s_pipe. */
    stat(name: string): number {
      const out = spawnSync('varnishstat', ['-n', work, '-1', '-f', name], { encoding: 'utf8' });
      const m = new RegExp(`^${name.replace('.', '\\.')}\\s+(\\d+)`, 'm').exec(out.stdout);
      if (!m) throw new Error(`varnishstat ${name}: ${out.stdout}${out.stderr}`);
      return Number(m[1]);
    },
  };
}
