/**
 * Weight initialization, done once in TypeScript and handed to any backend with setParams.
 * Layer l draws from the INIT stream with counter [i/4, l, 0, INIT]; biases start at 0.
 */
import type { ParamLayout } from './layout.js';
import { fillRandomU32, Stream, u32ToUnit } from './rng.js';
import { ACTIVATION_TRAITS, type ModelSpec } from './spec.js';

export function initialParams(spec: ModelSpec, layout: ParamLayout): Float32Array {
  const params = new Float32Array(layout.size);
  spec.layers.forEach((layer, l) => {
    const { inputs, units, weightOffset } = layout.layers[l]!;
    const count = inputs * units;
    let init = spec.init;
    if (init === 'auto') init = ACTIVATION_TRAITS[layer.activation].heInit ? 'he-uniform' : 'xavier-uniform';
    if (init === 'zeros') return;
    // Each weight uses two draws: one for uniform inits, both (Box–Muller) for normal ones.
    const draws = new Uint32Array(2 * count);
    fillRandomU32(draws, spec.seed, Stream.INIT, l, 0);
    const uniform = (limit: number) => (i: number) => (2 * u32ToUnit(draws[2 * i]!) - 1) * limit;
    const normal = (std: number) => (i: number) => {
      const u1 = 1 - u32ToUnit(draws[2 * i]!); // (0, 1]
      const u2 = u32ToUnit(draws[2 * i + 1]!);
      return std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    };
    const draw = {
      uniform: uniform(spec.initRange),
      'xavier-uniform': uniform(Math.sqrt(6 / (inputs + units))),
      'xavier-normal': normal(Math.sqrt(2 / (inputs + units))),
      'he-uniform': uniform(Math.sqrt(6 / inputs)),
      'he-normal': normal(Math.sqrt(2 / inputs)),
    }[init];
    for (let i = 0; i < count; i++) params[weightOffset + i] = draw(i);
  });
  return params;
}
