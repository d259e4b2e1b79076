/** \file
 * SC_EXPORT marks the functions of the C API (leveldb's scheme): building
 * libsalescycle_c defines SC_COMPILE_LIBRARY and compiles everything else
 * hidden, so only what carries SC_EXPORT is visible; callers need nothing. */
#ifndef SALESCYCLE_EXPORT_H_
#define SALESCYCLE_EXPORT_H_

#if defined(SC_COMPILE_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define SC_EXPORT __attribute__((visibility("default"))) /**< exported from libsalescycle_c */
#else
#define SC_EXPORT /**< nothing, outside the library's own build */
#endif

#if defined(__GNUC__) || defined(__clang__)
/** Marks a function that a later major version removes; the compiler warns
 * with `message` (what to call instead). */
#define SC_DEPRECATED(message) __attribute__((deprecated(message)))
#else
#define SC_DEPRECATED(message) /**< nothing, on other compilers */
#endif

#endif /* SALESCYCLE_EXPORT_H_ */
