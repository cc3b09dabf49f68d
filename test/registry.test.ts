import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import { listBackends, MLP, VERSION } from '../src/node.js';
import { loadNativeBackend } from '../src/backends/native.js';
import { setBackendLoader } from '../src/registry.js';

describe('backend registry', () => {
  const saved = process.env.MLPKIT_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.MLPKIT_BACKEND;
    else process.env.MLPKIT_BACKEND = saved;
  });
  const tiny = { inputs: 1, layers: [{ units: 1 }] };

  it('lists every backend in priority order, with availability and reason', () => {
    const backends = listBackends();
    expect(backends.map((b) => b.name)).toEqual(['native', 'wasm', 'js']);
    expect(backends[2]).toEqual({ name: 'js', available: true, isa: 'scalar', threads: 1 });
    for (const b of backends) if (!b.available) expect(b.reason).toMatch(/\w+/);
  });

  it('MLPKIT_BACKEND chooses the backend, the backend option overrides it, and a bad value is named', () => {
    process.env.MLPKIT_BACKEND = 'js';
    expect(new MLP(tiny).backend).toBe('js');
    process.env.MLPKIT_BACKEND = 'gpu';
    expect(() => new MLP(tiny)).toThrow(/the MLPKIT_BACKEND environment variable must be one of 'auto', 'native', 'wasm', 'js', got "gpu"/);
    expect(new MLP({ ...tiny, backend: 'js' }).backend).toBe('js');
  });
});

describe('automatic fallback', () => {
  it('warns once, saying what failed, why, what is used instead and how to choose', async () => {
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on('warning', listener);
    setBackendLoader('native', () => {
      throw new Error('the native addon could not be loaded: simulated dlopen failure\n  to build it: npm rebuild mlpkit');
    });
    try {
      expect(listBackends()[0]).toMatchObject({
        name: 'native',
        available: false,
        reason: expect.stringMatching(/simulated dlopen failure/),
      });
      const a = new MLP({ inputs: 1, layers: [{ units: 1 }] });
      const b = new MLP({ inputs: 1, layers: [{ units: 1 }] });
      expect(a.backend).not.toBe('native');
      expect(b.backend).toBe(a.backend);
      expect(() => new MLP({ inputs: 1, layers: [{ units: 1 }], backend: 'native' })).toThrow(
        /the native backend is not available: the native addon could not be loaded: simulated dlopen failure/,
      );
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      const fallbacks = warnings.filter((w) => (w as Error & { code?: string }).code === 'MLPKIT_BACKEND_FALLBACK');
      expect(fallbacks).toHaveLength(1);
      expect(fallbacks[0]!.message).toMatch(/native backend unavailable: the native addon could not be loaded: simulated dlopen failure/);
      expect(fallbacks[0]!.message).toMatch(/to build it: npm rebuild mlpkit/);
      expect(fallbacks[0]!.message).toMatch(new RegExp(`using: ${a.backend} \\(`));
      expect(fallbacks[0]!.message).toMatch(/to choose explicitly: MLPKIT_BACKEND=/);
    } finally {
      process.off('warning', listener);
      setBackendLoader('native', loadNativeBackend);
    }
  });
});

describe('package', () => {
  it('exports the same API from the built package as from the sources, at the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
    const built = await import('mlpkit');
    expect(Object.keys(built).sort()).toEqual(Object.keys(api).sort());
    expect(new built.MLP({ inputs: 1, layers: [{ units: 1 }], seed: 1 }).predict([[1]])).toEqual(
      new MLP({ inputs: 1, layers: [{ units: 1 }], seed: 1 }).predict([[1]]),
    );
  });
});
