/**
 * The compiled backends' tables are generated from TypeScript (scripts/generate-tables.ts):
 * the files in the tree must be exactly what the generator renders now, and the codes must be
 * the ones the TypeScript side sends.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUTPUTS, pascal, renderCpp } from '../scripts/generate-tables.js';
import { ACTIVATION_CODE, ACTIVATIONS, LOSS_CODE, OPTIMIZER_CODE } from '../src/spec.js';

describe('generated tables', () => {
  it.each(OUTPUTS.map((o) => [o.path, o.render] as const))('%s is up to date (run npm run generate)', (path, render) => {
    expect(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')).toBe(render());
  });

  it('give every activation, loss and optimizer the code TypeScript sends', () => {
    const cpp = renderCpp();
    for (const [name, code] of [...Object.entries(ACTIVATION_CODE), ...Object.entries(LOSS_CODE), ...Object.entries(OPTIMIZER_CODE)]) {
      expect(cpp).toContain(`  ${pascal(name)} = ${code},`);
    }
    expect(cpp).toContain(`constexpr int32_t kActivationCount = ${ACTIVATIONS.length};`);
    expect(pascal('leaky-relu')).toBe('LeakyRelu');
    expect(pascal('weightOffset')).toBe('WeightOffset');
    expect(pascal('INIT')).toBe('Init');
  });
});
