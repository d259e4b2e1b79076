/// \file
/// Vocabulary types shared by every salescycle header: dense ids and time.
///
/// Stages, events and attributes get dense ids in declaration order when a
/// machine is compiled, so that tables index by them directly. Time is int64
/// seconds on a clock of the caller's choosing (usually Unix time): the
/// library never reads a clock itself, so replaying the same input gives the
/// same state.
#ifndef SALESCYCLE_TYPES_H_
#define SALESCYCLE_TYPES_H_

#include <cstdint>

namespace salescycle {

using Timestamp = int64_t;  ///< seconds, on the caller's clock
using StageId = uint16_t;  ///< a stage's index in the machine's declaration order
using EventId = uint16_t;  ///< an event's index in declaration order
using AttributeId = uint16_t;  ///< an attribute's index in declaration order
/// A deal's slot in a Pipeline. Stable while the deal lives; a removed deal's
/// slot may be reused by a later Add.
using DealIndex = uint32_t;

inline constexpr StageId kNoStage = 0xFFFF;  ///< no stage ("the initial one" where a stage is optional)
inline constexpr EventId kNoEvent = 0xFFFF;  ///< no event (a timeout, a reopen)
inline constexpr AttributeId kNoAttribute = 0xFFFF;  ///< no attribute
inline constexpr DealIndex kNoDeal = 0xFFFFFFFF;  ///< no deal (a Journey's steps)

/// The most stages, events and attributes a machine can have: ids are
/// 16-bit and the all-ones value is reserved as "none". @{
inline constexpr int kMaxStages = 0xFFFE;
inline constexpr int kMaxEvents = 0xFFFE;
inline constexpr int kMaxAttributes = 0xFFFE;
///@}

}  // namespace salescycle

#endif  // SALESCYCLE_TYPES_H_
