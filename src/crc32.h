// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of
// zlib.crc32, Go's hash/crc32 and gzip, so that any language's standard
// library can check a snapshot's frames. (Abseil's CRC32C arrived after the
// version Debian 12 ships.)
#ifndef SALESCYCLE_SRC_CRC32_H_
#define SALESCYCLE_SRC_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace salescycle {
namespace internal {

// The CRC of `size` bytes at `data`, continuing from `crc` (0 to start).
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace internal
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CRC32_H_
