#!/usr/bin/env node
/**
 * tribune start              one process: origin + built-in edge + web app (embedded defaults)
 * tribune origin             origin only (API, WHIP, mixing, LL-HLS origin at /origin)
 * tribune edge --origin URL[,URL...]
 *                            an edge alone, in front of one origin or several, for listeners (/hls)
 * tribune rehearse …         a synthetic crowd against a deployment; rehearsal-token issues its token
 * tribune capacity …         edges, cores, memory, bandwidth and cost for N listeners (--help)
 *
 * Options: --port N, --data-dir DIR, --origin URL[,URL...] (several origins: comma-separated),
 * --config FILE (JSON, same shape as TribuneConfig).
 * Environment: PORT, HOST, TRIBUNE_DATA_DIR, TRIBUNE_DATABASE_URL, TRIBUNE_ORIGIN_URL, TRIBUNE_TOKEN_SECRET,
 * TRIBUNE_LOG_LEVEL.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFromEnv, loadConfig, type ConfigInput } from './config.js';
import { openFilesWarning } from './edge/limits.js';
import { runEdge } from './edge/server.js';
import { createOrigin } from './origin/app.js';

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'rehearse' || argv[0] === 'rehearsal-token') {
    process.exitCode = await (await import('./ops/rehearse/cli.js')).opsCommand(argv);
    return;
  }
  if (argv[0] === 'capacity') {
    process.exitCode = (await import('./ops/capacity/cli.js')).runCapacityCli(argv.slice(1));
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      origin: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help || !['start', 'origin', 'edge'].includes(command)) {
    console.log(
      'usage: tribune [start|origin|edge] [--port N] [--data-dir DIR] [--origin URL[,URL...]] [--config FILE]',
    );
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const fromFile: ConfigInput = values.config
    ? (JSON.parse(readFileSync(values.config, 'utf8')) as ConfigInput)
    : {};
  const fromArgs: ConfigInput = {
    port: values.port !== undefined ? Number(values.port) : undefined,
    dataDir: values['data-dir'] ? path.resolve(values['data-dir']) : undefined,
    originUrl: values.origin,
  };
  const config = loadConfig(fromFile, configFromEnv(), fromArgs);

  let close: () => Promise<void>;
  if (command === 'edge') {
    const edge = await runEdge(config);
    close = edge.close;
  } else {
    const origin = await createOrigin(config, { embeddedEdge: command === 'start' });
    const address = await origin.listen();
    origin.app.log.info({ address, dataDir: config.dataDir, mode: command }, 'tribune listening');
    const warning = command === 'start' ? openFilesWarning() : undefined;
    if (warning) origin.app.log.warn(warning);
    close = origin.close;
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.error(`tribune: ${signal}, shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error('tribune: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
