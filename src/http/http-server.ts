/**
 * /metrics (Prometheus text), /healthz (the process is alive) and /readyz (it is doing its job),
 * on HTTP_PORT. node:http is enough for three read-only routes.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { Readiness } from './readiness.js';

/** Every path served; the deploy manifests' probes are checked against it. */
export const HTTP_ROUTES = { metrics: '/metrics', liveness: '/healthz', readiness: '/readyz' } as const;

export interface HttpServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly readiness: () => Promise<Readiness>;
  readonly log: Logger;
}

export interface RunningHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

function json(body: unknown): string {
  return `${JSON.stringify(body)}\n`;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, contentType: string, body: string): void => {
      response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'application/json', json({ error: 'only GET and HEAD' }));
      return;
    }
    const route = async (): Promise<void> => {
      switch (path) {
        case HTTP_ROUTES.metrics:
          send(200, options.registry.contentType, await options.registry.metrics());
          return;
        case HTTP_ROUTES.liveness:
          send(200, 'application/json', json({ status: 'alive' }));
          return;
        case HTTP_ROUTES.readiness: {
          const report = await options.readiness();
          send(report.ready ? 200 : 503, 'application/json', json(report));
          return;
        }
        default:
          send(
            404,
            'application/json',
            json({ error: `no route ${path}; try /metrics, /healthz or /readyz` }),
          );
      }
    };
    route().catch((error: unknown) => {
      options.log.error({ err: (error as Error).message, path }, 'HTTP request failed');
      if (!response.headersSent) send(500, 'application/json', json({ error: 'internal error' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  options.log.info({ port }, 'serving /metrics, /healthz and /readyz');
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
