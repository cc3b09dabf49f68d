/**
 * The universal entry (browsers, workers, edge runtimes) in Node, where nothing loads the
 * module by itself: wasm is reported as not initialized and refused by name, 'auto' falls back
 * to js without a warning, and initWasm with a compiled module or its bytes makes it available.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
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
