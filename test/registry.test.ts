import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import { listBackends, MLP, VERSION } from '../src/node.js';

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

describe('package', () => {
  it('exports the same API from the built package as from the sources, at the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
    const built = await import('mlpkit');
    expect(Object.keys(built).sort()).toEqual(Object.keys(api).sort());
    expect(new built.MLP({ inputs: 1, layers: [{ units: 1 }], seed: 1 }).predict([[1]])).toEqual(new MLP({ inputs: 1, layers: [{ units: 1 }], seed: 1 }).predict([[1]]));
  });
});
