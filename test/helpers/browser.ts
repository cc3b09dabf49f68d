/**
 * Headless Chromium for the browser tests: the Debian build found on the PATH (never a
 * downloaded one), driven by playwright-core, loading pages from a static server on 127.0.0.1.
 * A page reports by setting `window.report` (or `window.failure`, a string).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { delimiter, extname, join, sep } from 'node:path';
import type { Browser } from 'playwright-core';

/** An executable on the PATH, by any of its usual names. */
export function onPath(...names: string[]): string {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) if (folder && existsSync(join(folder, name))) return join(folder, name);
  }
  return '';
}

/** The Chromium to test with: MLPKIT_CHROMIUM, else the first on the PATH ('' when there is none). */
export function findChromium(): string {
  return process.env.MLPKIT_CHROMIUM || onPath('chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome');
}

/** Headless, and quiet: no GPU, no sandbox (tests run as root in CI), nothing fetched from the network by the browser itself. */
export async function launchChromium(executablePath: string): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** Every path asked for, in order, with the status it got. */
  readonly requests: { path: string; status: number }[];
  close(): Promise<void>;
}

/** Serves the files under `dir` (404 for anything else) with their content type and `headers`. */
export async function serveFiles(dir: string, headers: Record<string, string> = {}): Promise<StaticServer> {
  const requests: { path: string; status: number }[] = [];
  const server: Server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const path = join(dir, pathname);
    const type = CONTENT_TYPES[extname(path)];
    const found = (path === dir || path.startsWith(dir + sep)) && existsSync(path) && type !== undefined;
    requests.push({ path: pathname, status: found ? 200 : 404 });
    if (!found) response.writeHead(404).end();
    else response.writeHead(200, { 'content-type': type, ...headers }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Opens `url` in a new page and waits for it to set `window.report` or `window.failure`. */
export async function pageOutcome(
  browser: Browser,
  url: string,
  timeout: number,
): Promise<{ report?: unknown; failure?: string; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(url);
    await page.waitForFunction(() => 'report' in window || 'failure' in window, null, { timeout });
    const outcome = await page.evaluate(() => {
      const w = window as unknown as { report?: unknown; failure?: string };
      return { report: w.report, failure: w.failure };
    });
    return { ...outcome, errors };
  } finally {
    await page.close();
  }
}
