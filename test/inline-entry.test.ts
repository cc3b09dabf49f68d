/**
 * `mlpkit/inline`: the universal entry with both builds embedded as base64. The strings are the
 * built files byte for byte, initWasm() compiles the one the SIMD probe picks without fetching
 * anything, and the entry exports the universal API, from the sources and from the package.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scalar, simd } from '../dist/wasm/modules-base64.js';
import { wasmSimdSupported } from '../src/backends/wasm/loader.js';
import * as universal from '../src/index.js';
import { initWasm, listBackends, MLP } from '../src/inline.js';

const builtFile = (name: string) => readFileSync(new URL(`../dist/wasm/${name}`, import.meta.url));

describe('the inline entry', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('embeds both builds byte for byte', () => {
    expect(Buffer.from(simd, 'base64').equals(builtFile('mlpkit-simd.wasm'))).toBe(true);
    expect(Buffer.from(scalar, 'base64').equals(builtFile('mlpkit-scalar.wasm'))).toBe(true);
  });

  it('initWasm() compiles the embedded build the SIMD probe picks, fetches nothing, and XOR trains on it', async () => {
    const fetch = vi.fn(() => Promise.reject(new Error('the inline entry must not fetch')));
    vi.stubGlobal('fetch', fetch);
    const info = await initWasm();
    expect(fetch).not.toHaveBeenCalled();
    expect(info.isa).toBe(wasmSimdSupported() ? 'simd128' : 'scalar');
    expect(listBackends().find((b) => b.name === 'wasm')).toEqual({ name: 'wasm', available: true, isa: info.isa, threads: 1 });
    const net = new MLP({
      inputs: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      optimizer: { type: 'adam', learningRate: 0.05 },
      seed: 3,
    });
    expect(net.backend).toBe('wasm');
    const x = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    await net.fit(x, [0, 1, 1, 0], { epochs: 300, batchSize: 4, validationSplit: 0 });
    expect((net.predict(x) as number[][]).map(([p]) => Math.round(p!))).toEqual([0, 1, 1, 0]);
  });

  it('exports the API of the universal entry, from the sources and from the built package', async () => {
    const source = await import('../src/inline.js');
    expect(Object.keys(source).sort()).toEqual(Object.keys(universal).sort());
    const built = await import('mlpkit/inline');
    expect(Object.keys(built).sort()).toEqual(Object.keys(universal).sort());
  });
});
