// Types for tools/hub-server.mjs (used from TypeScript tests).
export interface HubServerRequest {
  method: string | undefined;
  path: string;
  range: string | null;
  status: number;
}
export interface HubServer {
  url: string;
  /** url + prefix: where root is served. */
  siteUrl: string;
  port: number;
  root: string;
  requests: HubServerRequest[];
  close(): Promise<void>;
}
export function startHubServer(opts: {
  root: string;
  port?: number;
  host?: string;
  throttleBytesPerSec?: number;
  log?: boolean;
  /** Serve root only under this path ("/sub/"), as a static host serves a project site; default "/". */
  prefix?: string;
}): Promise<HubServer>;
