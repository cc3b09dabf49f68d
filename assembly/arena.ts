// The memory of one instance. Every instance holds one model (or serves the kernel entry
// points of the tests and benchmarks), so its memory is a single arena: a bump pointer over
// linear memory from the heap base, 64-byte aligned so that v128 rows start on cache lines.
// Nothing is freed; a model re-lays its capacity-dependent regions in place (see mlp.ts), and
// dropping the instance releases everything. Memory only grows here, never inside a step.
//
// The first ARENA_GUARD bytes above the heap base are left to the runtime stub, whose own
// allocator starts there; nothing in this module allocates through it.

const ALIGN: usize = 64;
const ARENA_GUARD: usize = 1024;

let arena_start: usize = 0;
let arena_end: usize = 0;

// @ts-ignore: decorator
@inline function align_up(p: usize): usize {
  return (p + ALIGN - 1) & ~(ALIGN - 1);
}

/** First byte of the arena. */
export function arena_base(): usize {
  if (arena_start == 0) {
    arena_start = align_up(__heap_base + ARENA_GUARD);
    arena_end = arena_start;
  }
  return arena_start;
}

/** One past the last byte handed out. */
export function arena_top(): usize {
  arena_base();
  return arena_end;
}

/** Makes linear memory cover [0, end), growing it as needed. */
export function memory_ensure(end: u64): void {
  if (end > 0x1_0000_0000) throw new Error("out of memory: more than 4 GiB of WebAssembly memory asked for");
  const have = <u64>memory.size() << 16;
  if (end <= have) return;
  const pages = <i32>((end - have + 0xffff) >> 16);
  if (memory.grow(pages) < 0) throw new Error("out of memory: the WebAssembly memory could not grow");
}

/** Moves the top of the arena to `top` (64-byte aligned), growing memory to cover it. */
export function arena_set_top(top: u64): usize {
  arena_base();
  const aligned = (top + <u64>(ALIGN - 1)) & ~<u64>(ALIGN - 1);
  memory_ensure(aligned);
  arena_end = <usize>aligned;
  return arena_end;
}

/** Hands out `bytes` at the top of the arena, 64-byte aligned. */
export function arena_alloc(bytes: u64): usize {
  const start = arena_top();
  arena_set_top(<u64>start + bytes);
  return start;
}

/** Releases everything above `top` (a value returned by arena_top). */
export function arena_release(top: usize): void {
  arena_base();
  if (top < arena_start || top > arena_end) throw new Error("arena_release: top is outside the arena");
  arena_end = top;
}
