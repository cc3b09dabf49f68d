/** ml-fnn ships no types; the benchmark uses it through the shape declared in peers.ts. */
declare module 'ml-fnn';
