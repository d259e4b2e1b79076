/// \file
/// SC_API marks what libsalescycle.so exports. The library is compiled with
/// hidden visibility (src/CMakeLists.txt), so its dynamic symbols are the
/// public API alone: not salescycle::internal, not the generated protobuf
/// code, not the Abseil templates it instantiates (issue 16 counted 1,291
/// exported symbols, 737 of them protobuf's). It is harmless where the
/// headers are only included. tests/cxx_exports_test.py holds the list.
#ifndef SALESCYCLE_VISIBILITY_H_
#define SALESCYCLE_VISIBILITY_H_

#if defined(__GNUC__) || defined(__clang__)
#define SC_API __attribute__((visibility("default")))
#else
#define SC_API
#endif

#endif  // SALESCYCLE_VISIBILITY_H_
