#include "src/page_memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace salescycle {
namespace internal {
namespace {

#if defined(__linux__)
bool OnPages(size_t bytes) { return bytes >= kPageArrayMinBytes; }

void* MapZeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}
#else
// Elsewhere the heap it is: correct everywhere, and the peak RSS figures
// are measured on Linux.
bool OnPages(size_t) { return false; }
void* MapZeroed(size_t) { throw std::bad_alloc(); }
#endif

void* HeapZeroed(size_t bytes) {
  void* p = std::calloc(bytes, 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* AllocateZeroed(size_t bytes) {
  if (bytes == 0) return nullptr;
  return OnPages(bytes) ? MapZeroed(bytes) : HeapZeroed(bytes);
}

void* ResizeZeroed(void* p, size_t old_bytes, size_t new_bytes) {
  if (p == nullptr) return AllocateZeroed(new_bytes);
  if (new_bytes == old_bytes) return p;
  if (new_bytes == 0) {
    FreeZeroed(p, old_bytes);
    return nullptr;
  }
#if defined(__linux__)
  if (OnPages(old_bytes) && OnPages(new_bytes)) {
    // The kernel moves the pages (and maps zero pages after them): no copy,
    // and never the old and the new array resident at once. A shrink keeps
    // its place, and the rest of its last page is zeroed, as a later growth
    // promises zeros there.
    if (new_bytes < old_bytes) {
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      const size_t page_end = (new_bytes + page - 1) / page * page;
      const size_t end = page_end < old_bytes ? page_end : old_bytes;
      std::memset(static_cast<char*>(p) + new_bytes, 0, end - new_bytes);
    }
    void* q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) throw std::bad_alloc();
    return q;
  }
#endif
  if (!OnPages(old_bytes) && !OnPages(new_bytes)) {
    void* q = std::realloc(p, new_bytes);
    if (q == nullptr) throw std::bad_alloc();
    if (new_bytes > old_bytes) {
      std::memset(static_cast<char*>(q) + old_bytes, 0, new_bytes - old_bytes);
    }
    return q;
  }
  // From the heap to pages or back: a copy, of the smaller one's size.
  void* q = AllocateZeroed(new_bytes);
  std::memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
  FreeZeroed(p, old_bytes);
  return q;
}

void FreeZeroed(void* p, size_t bytes) {
  if (p == nullptr) return;
#if defined(__linux__)
  if (OnPages(bytes)) {
    munmap(p, bytes);
    return;
  }
#endif
  std::free(p);
}

}  // namespace internal
}  // namespace salescycle
