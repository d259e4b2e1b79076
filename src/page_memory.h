// Zeroed arrays taken straight from the kernel's pages, for the few arrays
// that grow with the number of deals and so decide a pipeline's peak RSS.
//
// Why not malloc: glibc serves a large block by mmap only until a block of
// that size has been freed; from then on (its "dynamic mmap threshold", up
// to 32 MiB) it serves such blocks from the heap, where a freed array stays
// resident until something else reuses it. A table rebuilt at 1.2x its size
// never fits in its predecessor's hole, so at 2M deals the holes were 6
// bytes a deal of peak RSS (bench/RESULTS.md). Pages are also zero until
// written, so an array that is grown but not yet filled costs nothing, and
// on Linux a grown array keeps its pages (mremap moves them): growing never
// holds the old and the new array at once.
//
// Arrays below kPageArrayMinBytes still come from malloc: rounding them up
// to pages would waste more than the heap does, and each mapping counts
// against the kernel's limit on a process's mappings (vm.max_map_count,
// 65530 by default): a host holding thousands of small pipelines must not
// run into it. From 1 MiB on, a mapping stands for at least a megabyte.
#ifndef SALESCYCLE_SRC_PAGE_MEMORY_H_
#define SALESCYCLE_SRC_PAGE_MEMORY_H_

#include <cstddef>

namespace salescycle {
namespace internal {

inline constexpr size_t kPageArrayMinBytes = size_t{1} << 20;

// `bytes` zeroed bytes (null for 0). Throws std::bad_alloc when the system
// has none, as operator new does.
void* AllocateZeroed(size_t bytes);

// `p` (AllocateZeroed's or ResizeZeroed's, of `old_bytes`) resized to
// `new_bytes`: the first min(old, new) bytes kept, any bytes after them
// zero. May move; `p` is invalid after. Throws std::bad_alloc as above
// (then `p` is unchanged and still owned by the caller).
void* ResizeZeroed(void* p, size_t old_bytes, size_t new_bytes);

// Returns `p` (of `bytes`, as allocated or last resized) to the system.
void FreeZeroed(void* p, size_t bytes);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_PAGE_MEMORY_H_
