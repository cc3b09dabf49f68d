import { describe, expect, it } from 'vitest';
import { dropoutThreshold, fillRandomU32, mulhi32, permutation, philox4x32, Stream } from '../src/rng.js';

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, '0'));

describe('Philox4x32-10', () => {
  it('reproduces the known-answer vectors of the reference implementation', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philox4x32(0xa4093822, 0x299f31d0, 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, out);
    expect(hex(out)).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('computes the high word of 32×32-bit products exactly', () => {
    const cases: [number, number][] = [
      [0xffffffff, 0xffffffff],
      [0xd2511f53, 0x12345678],
      [1, 0xffffffff],
      [0x80000000, 2],
      [0, 7],
    ];
    for (const [a, b] of cases) {
      expect(mulhi32(a, b), `${a}·${b}`).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });

  it('fills streams lane by lane from consecutive counters', () => {
    const words = new Uint32Array(6);
    fillRandomU32(words, 42, Stream.INIT, 3, 0);
    const block = new Uint32Array(4);
    philox4x32(42, 0, 1, 3, 0, Stream.INIT, block);
    expect(words[4]).toBe(block[0]);
    expect(words[5]).toBe(block[1]);
  });

  it('makes seeded permutations that are permutations, reproducible and different per epoch', () => {
    const a = permutation(1000, 7, Stream.SHUFFLE, 0);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 7, Stream.SHUFFLE, 0)).toEqual(a);
    expect(permutation(1000, 7, Stream.SHUFFLE, 1)).not.toEqual(a);
    expect(permutation(1000, 8, Stream.SHUFFLE, 0)).not.toEqual(a);
    // Every position is roughly uniformly likely: the first element over many epochs.
    const firsts = new Array(4).fill(0);
    for (let e = 0; e < 4000; e++) firsts[permutation(4, 1, Stream.SHUFFLE, e)[0]!]++;
    for (const count of firsts) expect(count).toBeGreaterThan(900);
  });

  it('keeps a dropout rate of the units on average', () => {
    const draws = new Uint32Array(100_000);
    fillRandomU32(draws, 5, Stream.DROPOUT, 0, 1);
    const threshold = dropoutThreshold(0.3);
    const dropped = draws.filter((u) => u >>> 8 < threshold).length / draws.length;
    expect(dropped).toBeGreaterThan(0.295);
    expect(dropped).toBeLessThan(0.305);
  });
});
