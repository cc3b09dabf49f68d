/**
 * The universal entry (browsers, workers, edge runtimes) in Node, where nothing loads the
 * module by itself: wasm is reported as not initialized and refused by name, 'auto' falls back
 * to js without a warning, and initWasm with a compiled module or its bytes makes it available.
 * A module that cannot be fetched is named by its URL, with the status or network error and the
 * ways to load it without that fetch.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { wasmSimdSupported } from '../src/backends/wasm/loader.js';
import { BackendUnavailableError, initWasm, listBackends, MLP } from '../src/index.js';

const file = new URL(`../dist/wasm/${wasmSimdSupported() ? 'mlpkit-simd.wasm' : 'mlpkit-scalar.wasm'}`, import.meta.url);

describe('the universal entry before and after initWasm', () => {
  const tiny = { inputs: 2, layers: [{ units: 1 }] };

  it('reports wasm as not initialized, refuses it by name and falls back to js for auto', () => {
    expect(listBackends().find((b) => b.name === 'wasm')).toEqual({
      name: 'wasm',
      available: false,
      reason: 'the WebAssembly module is not initialized in this runtime: call await initWasm() first',
    });
    expect(() => new MLP({ ...tiny, backend: 'wasm' })).toThrow(BackendUnavailableError);
    expect(() => new MLP({ ...tiny, backend: 'wasm' })).toThrow(
      /the wasm backend is not available: the WebAssembly module is not initialized in this runtime: call await initWasm\(\) first/,
    );
    const warn = vi.spyOn(process, 'emitWarning');
    expect(new MLP(tiny).backend).toBe('js');
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('initWasm with the bytes of the module makes wasm available, and auto picks it', async () => {
    const info = await initWasm(readFileSync(file));
    expect(info.isa).toBe(wasmSimdSupported() ? 'simd128' : 'scalar');
    expect(listBackends().find((b) => b.name === 'wasm')).toEqual({ name: 'wasm', available: true, isa: info.isa, threads: 1 });
    expect(new MLP(tiny).backend).toBe('wasm');
    expect(await initWasm()).toEqual(info); // already initialized: nothing to fetch
  });

  it('initWasm with a compiled module (as Cloudflare Workers import it) replaces the module', async () => {
    const module = new WebAssembly.Module(readFileSync(file));
    await initWasm(module);
    const net = new MLP({
      inputs: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      seed: 4,
      backend: 'wasm',
    });
    const ref = new MLP({
      inputs: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      seed: 4,
      backend: 'js',
    });
    const x = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const options = { epochs: 50, batchSize: 4, validationSplit: 0 };
    expect((await net.fit(x, [0, 1, 1, 0], options)).loss.at(-1)).toBeCloseTo((await ref.fit(x, [0, 1, 1, 0], options)).loss.at(-1)!, 5);
  });
});

describe('initWasm with a URL it cannot load', () => {
  // A server like a static host that lacks the file, and one that answers every path with its page.
  const server = createServer((request, response) => {
    if (request.url === '/index.html') response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    else response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const hint =
    /\n {2}to load it without this fetch: import \{ initWasm \} from 'mlpkit\/inline' \(the module embedded in the code\), or pass the module: initWasm\(bytes \| URL \| WebAssembly\.Module \| Response\)$/;

  it('names the URL and the HTTP status of a missing file, and how to load the module instead', async () => {
    const url = `${base}/dist/wasm/mlpkit-simd.wasm`;
    const error = await initWasm(url).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`^the WebAssembly module could not be fetched from ${url}: HTTP 404 Not Found\n`));
    expect((error as Error).message).toMatch(hint);
  });

  it('names the URL and the network error when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const url = new URL(`http://127.0.0.1:${port}/mlpkit-simd.wasm`);
    const error = (await initWasm(url).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(
      new RegExp(
        `^the WebAssembly module could not be fetched from ${url.href}: fetch failed \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)\n`,
      ),
    );
    expect(error.message).toMatch(hint);
  });

  it('says what was fetched when a server answers with a page instead of the module', async () => {
    const error = (await initWasm(`${base}/index.html`).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(
      new RegExp(`^the file fetched from ${base}/index.html \\(content-type text/html\\) is not a WebAssembly module: .*magic`),
    );
    expect(error.message).toMatch(hint);
  });
});
