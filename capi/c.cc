// The C API over the C++ core. The functions take C linkage from their
// declarations in c.h (so the helpers here can be templates). Each handle
// wraps one C++ object
// (`struct sc_machine_t { shared_ptr<const Machine> rep; }`, leveldb's
// shape); every entry point runs its body through Run(), which turns an
// absl::Status into the C error convention and stops every exception at the
// boundary.
#include "salescycle/c.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "salescycle/durable.h"
#include "salescycle/funnel.h"
#include "salescycle/funnel_state.h"
#include "salescycle/journey.h"
#include "salescycle/limits.h"
#include "salescycle/machine.h"
#include "salescycle/observer.h"
#include "salescycle/options.h"
#include "salescycle/partition.h"
#include "salescycle/pipeline.h"
#include "salescycle/sharded.h"
#include "salescycle/snapshot.h"
#include "salescycle/version.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "src/cli/rows.h"
#include "src/json_writer.h"
#include "src/pipeline_internal.h"
#include "src/status_macros.h"

using salescycle::AttributeId;
using salescycle::AttributeReader;
using salescycle::AttributeType;
using salescycle::DealIndex;
using salescycle::AttributeValue;
using salescycle::EventId;
using salescycle::Journey;
using salescycle::Machine;
using salescycle::Pipeline;
using salescycle::StageId;
using salescycle::StepResult;

// The batch path hands the caller's array to Pipeline::Apply as it is, so
// the two layouts must be one.
// The C cohort numbers are the enum's: sc_options_set_analytics casts.
static_assert(static_cast<int>(salescycle::Cohort::kWeek) == SC_COHORT_WEEK &&
                  static_cast<int>(salescycle::Cohort::kMonth) == SC_COHORT_MONTH &&
                  static_cast<int>(salescycle::Cohort::kQuarter) == SC_COHORT_QUARTER,
              "");
static_assert(sizeof(sc_event_record) == sizeof(salescycle::EventRecord), "");
static_assert(offsetof(sc_event_record, deal) ==
                  offsetof(salescycle::EventRecord, deal), "");
static_assert(offsetof(sc_event_record, event) ==
                  offsetof(salescycle::EventRecord, event), "");
static_assert(offsetof(sc_event_record, time) ==
                  offsetof(salescycle::EventRecord, time), "");
static_assert(sizeof(sc_event_record) == 16 && alignof(sc_event_record) == 8,
              "sc_event_record is documented as 16 bytes, aligned to 8");
static_assert(sizeof(sc_stage_record) == sizeof(salescycle::StageRecord) &&
                  offsetof(sc_stage_record, deal) ==
                      offsetof(salescycle::StageRecord, deal) &&
                  offsetof(sc_stage_record, stage) ==
                      offsetof(salescycle::StageRecord, stage) &&
                  offsetof(sc_stage_record, time) ==
                      offsetof(salescycle::StageRecord, time),
              "sc_stage_record is salescycle::StageRecord");
static_assert(SC_OUTCOME_NO_DEAL ==
                  static_cast<int>(salescycle::Outcome::kNoDeal), "");
static_assert(SC_OUTCOME_ACTIVITY ==
                  static_cast<int>(salescycle::Outcome::kActivity), "");
static_assert(SC_OUTCOME_NOT_REOPENABLE ==
                  static_cast<int>(salescycle::Outcome::kNotReopenable), "");
static_assert(SC_ATTRIBUTE_BOOL == static_cast<int>(AttributeType::kBool), "");
static_assert(SC_STAGE_LOST == static_cast<int>(salescycle::StageKind::kLost),
              "");

namespace {

// ---- what a stepping call reports besides its result

// A failed callback does not stop the C++ core mid-step (it cannot: a batch
// was checked and is applied whole); it is recorded here and the call
// returns SC_ABORTED once the core is done.
struct CallbackFailure {
  bool failed = false;
  std::string what;  // "observer", "named guard \"credit_check\""
  int32_t code = 0;

  void Record(std::string who, int32_t rc) {
    if (failed) return;
    failed = true;
    what = std::move(who);
    code = rc;
  }
};

// The machine a named guard runs for, and where its failure goes. Named
// guards are compiled into a machine that any thread may step, so this is
// per thread, set by the stepping call for its duration. (It is internal:
// the API's errors still travel through return codes, convention 1.)
struct StepScope {
  const Machine* machine = nullptr;
  CallbackFailure guard_failure;
};
thread_local StepScope* g_step_scope = nullptr;

}  // namespace

struct sc_deal_view_t {
  const Machine* machine;
  const AttributeReader* reader;
};

struct sc_compile_options_t {
  salescycle::CompileOptions rep;
};

struct sc_options_t {
  salescycle::PipelineOptions rep;
};

struct sc_limits_t {
  salescycle::Limits rep;
};

struct sc_machine_t {
  std::shared_ptr<const Machine> rep;
};

namespace {

class CObserver : public salescycle::Observer {
 public:
  CObserver(uint64_t token, sc_observer_fn on_transition,
            sc_observer_fn on_rejection, void* user_data,
            CallbackFailure* failure, sc_change_fn on_change = nullptr)
      : token_(token),
        on_transition_(on_transition),
        on_rejection_(on_rejection),
        on_change_(on_change),
        user_data_(user_data),
        failure_(failure) {}

  void OnAdd(salescycle::DealIndex deal, StageId stage, salescycle::Timestamp time) override {
    Change(SC_CHANGE_ADD, deal, stage, time);
  }
  void OnRemove(salescycle::DealIndex deal) override {
    Change(SC_CHANGE_REMOVE, deal, SC_NONE, 0);
  }
  void OnSet(salescycle::DealIndex deal, AttributeId id, const AttributeValue&) override {
    Change(SC_CHANGE_SET, deal, id, 0);
  }

  void OnTransition(const StepResult& step) override {
    Call(on_transition_, step);
  }
  // Accepted, as a move is: c.h sends both to on_transition, told apart by
  // the outcome.
  void OnActivity(const StepResult& step) override {
    Call(on_transition_, step);
  }
  void OnRejection(const StepResult& step) override {
    Call(on_rejection_, step);
  }
  uint64_t token() const { return token_; }

 private:
  static uint32_t Id(uint32_t id, uint32_t none) {
    return id == none ? SC_NONE : id;
  }
  void Call(sc_observer_fn fn, const StepResult& step) {
    if (fn == nullptr || failure_->failed) return;
    const int32_t rc =
        fn(user_data_, step.deal, Id(step.from, salescycle::kNoStage),
           Id(step.to, salescycle::kNoStage), Id(step.event, salescycle::kNoEvent),
           step.time, static_cast<int32_t>(step.outcome));
    if (rc != 0) failure_->Record("observer", rc);
  }

  void Change(int32_t kind, uint32_t deal, uint32_t id, int64_t time) {
    if (on_change_ == nullptr || failure_->failed) return;
    const int32_t rc = on_change_(user_data_, kind, deal, id, time);
    if (rc != 0) failure_->Record("change observer", rc);
  }

  uint64_t token_;
  sc_observer_fn on_transition_;
  sc_observer_fn on_rejection_;
  sc_change_fn on_change_;
  void* user_data_;
  CallbackFailure* failure_;
};

// The C observers of one pipeline or journey handle.
struct Observers {
  std::vector<std::unique_ptr<CObserver>> list;
  uint64_t next_token = 1;
  CallbackFailure failure;
  // Calls under way that step the handle and so may run its callbacks.
  int stepping = 0;
};

// Convention 7 says a callback must not call into the handle it observes;
// calls that change the handle enforce it, since one would pull the ground
// from under the call running the callback (an observer added to the list
// being walked is a use after free). Reads are allowed.
absl::Status NotFromItsCallback(const Observers& observers) {
  if (observers.stepping == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "called from a callback of the same handle, which may only read it");
}

}  // namespace

struct sc_pipeline_t {
  explicit sc_pipeline_t(Pipeline pipeline) : own(std::move(pipeline)), rep(*own) {}
  // A read-only view of a pipeline owned elsewhere: a durable pipeline's,
  // for the length of sc_durable_read. Marked as stepping, so that a call
  // that would change it (const cast away) is refused as from a callback:
  // a change there would bypass the journal.
  explicit sc_pipeline_t(const Pipeline* borrowed)
      : rep(const_cast<Pipeline&>(*borrowed)) {
    observers.stepping = 1;
  }
  std::optional<Pipeline> own;
  Pipeline& rep;
  Observers observers;
};

struct sc_journey_t {
  Journey rep;
  Observers observers;
};

struct sc_funnel_state_t {
  salescycle::FunnelState rep;
};

namespace {

// ---- the error convention

// Sets *errmsg to "fn: message" (convention 1). Never throws: it runs
// inside the exception firewall's handlers too.
sc_status Report(absl::StatusCode code, absl::string_view fn,
                 absl::string_view message, char** errmsg) noexcept {
  if (errmsg != nullptr) {
    std::free(*errmsg);
    const size_t size = fn.size() + 2 + message.size();
    *errmsg = static_cast<char*>(std::malloc(size + 1));
    if (*errmsg != nullptr) {
      std::memcpy(*errmsg, fn.data(), fn.size());
      std::memcpy(*errmsg + fn.size(), ": ", 2);
      std::memcpy(*errmsg + fn.size() + 2, message.data(), message.size());
      (*errmsg)[size] = '\0';
    }
  }
  return static_cast<sc_status>(code);
}

// The exception firewall: every entry point's body runs here. Messages are
// prefixed with the entry point's name, so the helpers below need not know
// which function they serve.
template <typename Body>
sc_status Run(const char* fn, char** errmsg, Body&& body) noexcept {
  try {
    const absl::Status status = body();
    if (status.ok()) return SC_OK;
    return Report(status.code(), fn, status.message(), errmsg);
  } catch (const std::bad_alloc&) {
    return Report(absl::StatusCode::kResourceExhausted, fn, "out of memory",
                  errmsg);
  } catch (const std::exception& e) {
    const char* what = e.what();
    return Report(absl::StatusCode::kInternal, fn,
                  what != nullptr ? what : "unexpected C++ exception", errmsg);
  } catch (...) {
    return Report(absl::StatusCode::kInternal, fn, "unexpected C++ exception",
                  errmsg);
  }
}

#define SC_C_REQUIRE(pointer)                                               \
  do {                                                                      \
    if ((pointer) == nullptr) {                                             \
      return absl::InvalidArgumentError(#pointer " is NULL");               \
    }                                                                       \
  } while (0)

absl::string_view View(const char* data, size_t len) {
  return data == nullptr ? absl::string_view() : absl::string_view(data, len);
}

// A buffer given as pointer + length: NULL only with length 0, and a
// length that no buffer can have (past PTRDIFF_MAX, or running past the end
// of the address space from `data`) refused before anything reads it: a
// caller's SIZE_MAX is an error, not a read off the end of memory.
absl::Status CheckBuffer(const char* name, const void* data, size_t len) {
  if (data == nullptr && len != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is NULL with length ", len));
  }
  if (len > static_cast<size_t>(PTRDIFF_MAX) ||
      reinterpret_cast<uintptr_t>(data) > UINTPTR_MAX - len) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has length ", len, ", which no buffer at that address has"));
  }
  return absl::OkStatus();
}

// `count` records of `size` bytes: a buffer, and a count whose bytes
// do not overflow.
// An array of `count` elements of `size` bytes, called `name` in errors.
absl::Status CheckArray(const char* name, const void* array, size_t count, size_t size) {
  if (array == nullptr && count != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is NULL with count ", count));
  }
  if (count > SIZE_MAX / size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has count ", count, ", which no buffer holds"));
  }
  return CheckBuffer(name, array, count * size);
}

absl::Status CheckRecords(const void* records, size_t count, size_t size) {
  return CheckArray("records", records, count, size);
}

// A string argument (a name, a key, a string value): a buffer no longer
// than Limits::max_string_length, the longest a snapshot takes back.
absl::Status CheckString(const char* name, const char* data, size_t len) {
  SC_RETURN_IF_ERROR(CheckBuffer(name, data, len));
  const size_t longest = salescycle::Limits().max_string_length;
  if (len > longest) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " has length ", len, ", past Limits::max_string_length (", longest, ")"));
  }
  return absl::OkStatus();
}

// Ids cross as uint32_t and the core's are 16-bit: check before narrowing.
absl::Status CheckId(const char* what, uint32_t id, int count,
                     const Machine& m) {
  if (id >= static_cast<uint32_t>(count)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", id, " is out of range: machine \"",
                     m.name(), "\" has ", count));
  }
  return absl::OkStatus();
}

absl::StatusOr<AttributeId> CheckAttribute(const Machine& m,
                                           uint32_t attribute,
                                           AttributeType type) {
  SC_RETURN_IF_ERROR(
      CheckId("attribute", attribute, m.num_attributes(), m));
  const auto& info = m.attribute(static_cast<AttributeId>(attribute));
  if (info.type != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute \"", info.name, "\" is ",
        salescycle::AttributeTypeName(info.type), ", not ",
        salescycle::AttributeTypeName(type)));
  }
  return static_cast<AttributeId>(attribute);
}

// Copies `bytes` into a buffer the caller frees with sc_free, with a NUL
// after it so that strings can be used as C strings.
template <typename Char>
absl::Status Give(Char** out_data, size_t* out_len, absl::string_view bytes) {
  char* buffer = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (buffer == nullptr) throw std::bad_alloc();
  // An empty view may have no data at all (a deal with no loss reason):
  // memcpy from null is undefined even for no bytes. The fuzzer found it.
  if (!bytes.empty()) std::memcpy(buffer, bytes.data(), bytes.size());
  buffer[bytes.size()] = '\0';
  *out_data = reinterpret_cast<Char*>(buffer);
  *out_len = bytes.size();
  return absl::OkStatus();
}

// Runs one stepping call: sets the named guards' scope and, once the core
// is done, turns a failed callback into SC_ABORTED.
class Stepping {
 public:
  Stepping(const Machine& machine, Observers* observers)
      : observers_(observers), previous_(g_step_scope) {
    scope_.machine = &machine;
    g_step_scope = &scope_;
    observers_->failure = CallbackFailure();
    ++observers_->stepping;
  }
  ~Stepping() {
    --observers_->stepping;
    g_step_scope = previous_;
  }

  absl::Status Finish() const {
    const CallbackFailure* failures[] = {&scope_.guard_failure,
                                         &observers_->failure};
    for (const CallbackFailure* f : failures) {
      if (f->failed) {
        return absl::AbortedError(absl::StrCat(
            "the ", f->what, " callback failed with code ", f->code,
            "; the steps were applied"));
      }
    }
    return absl::OkStatus();
  }

 private:
  StepScope scope_;
  Observers* observers_;
  StepScope* previous_;
};

// ---- one deal's attributes, for pipelines (a deal index) and journeys

struct PipelineDeal {
  sc_pipeline_t* handle;
  uint32_t deal;
  Observers* mutable_observers() const { return &handle->observers; }
  const Machine& machine() const { return handle->rep.machine(); }
  const Observers& observers() const { return handle->observers; }
  absl::Status Set(AttributeId id, AttributeValue v) const {
    return handle->rep.Set(deal, id, std::move(v));
  }
  absl::StatusOr<AttributeValue> Get(AttributeId id) const {
    return handle->rep.Get(deal, id);
  }
  absl::StatusOr<bool> IsSet(AttributeId id) const {
    SC_RETURN_IF_ERROR(handle->rep.CheckLive(deal));
    return handle->rep.IsSet(deal, id);
  }
};

struct JourneyDeal {
  sc_journey_t* handle;
  Observers* mutable_observers() const { return &handle->observers; }
  const Machine& machine() const { return handle->rep.machine(); }
  const Observers& observers() const { return handle->observers; }
  absl::Status Set(AttributeId id, AttributeValue v) const {
    return handle->rep.Set(id, std::move(v));
  }
  absl::StatusOr<AttributeValue> Get(AttributeId id) const {
    return handle->rep.Get(id);
  }
  absl::StatusOr<bool> IsSet(AttributeId id) const {
    return handle->rep.IsSet(id);
  }
};

// `make` builds the value inside the firewall (a string copy may throw).
template <typename Deal, typename Make>
sc_status SetValue(const char* fn, const void* handle, Deal deal,
                   uint32_t attribute, AttributeType type, Make&& make,
                   char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (handle == nullptr) {
      return absl::InvalidArgumentError("handle is NULL");
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(deal.observers()));
    SC_ASSIGN_OR_RETURN(AttributeId id,
                        CheckAttribute(deal.machine(), attribute, type));
    SC_ASSIGN_OR_RETURN(AttributeValue value, make());
    // A change observer runs inside: it may read, and its failure is ours.
    Stepping stepping(deal.machine(), deal.mutable_observers());
    SC_RETURN_IF_ERROR(deal.Set(id, std::move(value)));
    return stepping.Finish();
  });
}

// `store` receives the value once it is read and checked.
template <typename Deal, typename Store>
sc_status GetValue(const char* fn, const void* handle, Deal deal,
                   uint32_t attribute, AttributeType type, const void* out,
                   Store&& store, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (handle == nullptr || out == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(handle == nullptr ? "handle" : "out",
                       " is NULL"));
    }
    SC_ASSIGN_OR_RETURN(AttributeId id,
                        CheckAttribute(deal.machine(), attribute, type));
    SC_ASSIGN_OR_RETURN(AttributeValue value, deal.Get(id));
    return store(value);
  });
}

template <typename Deal>
sc_status IsSetValue(const char* fn, const void* handle, Deal deal,
                     uint32_t attribute, uint8_t* out, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (handle == nullptr || out == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(handle == nullptr ? "handle" : "out",
                       " is NULL"));
    }
    SC_RETURN_IF_ERROR(CheckId("attribute", attribute,
                               deal.machine().num_attributes(),
                               deal.machine()));
    SC_ASSIGN_OR_RETURN(bool set, deal.IsSet(static_cast<AttributeId>(attribute)));
    *out = set ? 1 : 0;
    return absl::OkStatus();
  });
}

// ---- observers of either kind of handle

template <typename Rep>
sc_status AddObserver(const char* fn, uint64_t* out_token, Rep* rep,
                      Observers* observers, sc_observer_fn on_transition,
                      sc_observer_fn on_rejection, void* user_data,
                      char** errmsg, sc_change_fn on_change = nullptr) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (rep == nullptr || out_token == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          rep == nullptr ? "handle" : "out_token", " is NULL"));
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(*observers));
    const uint64_t token = observers->next_token++;
    observers->list.push_back(std::make_unique<CObserver>(
        token, on_transition, on_rejection, user_data, &observers->failure, on_change));
    rep->AddObserver(observers->list.back().get());
    *out_token = token;
    return absl::OkStatus();
  });
}

template <typename Rep>
sc_status RemoveObserver(const char* fn, Rep* rep, Observers* observers,
                         uint64_t token, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (rep == nullptr) {
      return absl::InvalidArgumentError("handle is NULL");
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(*observers));
    for (auto it = observers->list.begin(); it != observers->list.end(); ++it) {
      if ((*it)->token() == token) {
        rep->RemoveObserver(it->get());
        observers->list.erase(it);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(
        absl::StrCat("no observer is registered as ", token));
  });
}

absl::Status NamesAMachine(const sc_machine_t* machine) {
  if (machine == nullptr || machine->rep == nullptr) {
    return absl::InvalidArgumentError("machine is NULL");
  }
  return absl::OkStatus();
}

}  // namespace


// ---- the library

uint32_t sc_version_number(void) { return SC_VERSION_NUMBER; }
const char* sc_version_string(void) { return SC_VERSION_STRING; }

const char* sc_status_name(sc_status status) {
  static const char* const kNames[] = {
      "OK",          "CANCELLED",         "UNKNOWN",
      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS",   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",        "OUT_OF_RANGE",
      "UNIMPLEMENTED",    "INTERNAL",          "UNAVAILABLE",
      "DATA_LOSS",        "UNAUTHENTICATED"};
  if (status < 0 || status >= static_cast<sc_status>(std::size(kNames))) {
    return "UNKNOWN_STATUS";
  }
  return kNames[status];
}

void sc_free(void* ptr) { std::free(ptr); }

// ---- limits

namespace {

// The field behind SC_LIMIT_`limit`, read or written through `use`.
template <typename Limits, typename Use>
absl::Status WithLimit(Limits& limits, int32_t limit, Use&& use) {
  switch (limit) {
    case SC_LIMIT_SPEC_BYTES: use(limits.max_spec_bytes); break;
    case SC_LIMIT_STAGES: use(limits.max_stages); break;
    case SC_LIMIT_EVENTS: use(limits.max_events); break;
    case SC_LIMIT_ATTRIBUTES: use(limits.max_attributes); break;
    case SC_LIMIT_TRANSITIONS: use(limits.max_transitions); break;
    case SC_LIMIT_GUARD_DEPTH: use(limits.max_guard_depth); break;
    case SC_LIMIT_STRING_LENGTH: use(limits.max_string_length); break;
    case SC_LIMIT_HISTORY_LENGTH: use(limits.max_history_length); break;
    case SC_LIMIT_SNAPSHOT_DEALS: use(limits.max_snapshot_deals); break;
    case SC_LIMIT_HISTORY_ENTRIES: use(limits.max_history_entries); break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("limit ", limit, " is not one of SC_LIMIT_*"));
  }
  return absl::OkStatus();
}

salescycle::Limits LimitsOrDefaults(const sc_limits_t* limits) {
  return limits == nullptr ? salescycle::Limits() : limits->rep;
}

}  // namespace

sc_limits_t* sc_limits_create(void) { return new (std::nothrow) sc_limits_t; }
void sc_limits_destroy(sc_limits_t* limits) { delete limits; }

sc_status sc_limits_set(sc_limits_t* limits, int32_t limit, uint64_t value,
                        char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(limits);
    return WithLimit(limits->rep, limit, [value](auto& field) {
      using Field = std::remove_reference_t<decltype(field)>;
      // On a 32-bit host a size_t limit saturates; the hard caps are lower.
      field = static_cast<Field>(
          std::min<uint64_t>(value, std::numeric_limits<Field>::max()));
    });
  });
}

sc_status sc_limits_get(uint64_t* out, const sc_limits_t* limits,
                        int32_t limit, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(limits);
    uint64_t value = 0;
    SC_RETURN_IF_ERROR(WithLimit(limits->rep, limit,
                                 [&value](const auto& field) { value = field; }));
    *out = value;
    return absl::OkStatus();
  });
}

// ---- compile options and named guards

sc_compile_options_t* sc_compile_options_create(void) {
  return new (std::nothrow) sc_compile_options_t;
}
void sc_compile_options_destroy(sc_compile_options_t* options) {
  delete options;
}

sc_status sc_compile_options_set_source_name(sc_compile_options_t* options,
                                             const char* name,
                                             size_t name_len, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    SC_RETURN_IF_ERROR(CheckString("name", name, name_len));
    options->rep.source_name = std::string(View(name, name_len));
    return absl::OkStatus();
  });
}

sc_status sc_compile_options_set_limits(sc_compile_options_t* options,
                                       const sc_limits_t* limits,
                                       char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    SC_C_REQUIRE(limits);
    options->rep.limits = limits->rep;
    return absl::OkStatus();
  });
}

sc_status sc_compile_options_add_named_guard(sc_compile_options_t* options,
                                             const char* name,
                                             size_t name_len, sc_guard_fn fn,
                                             void* user_data, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    SC_C_REQUIRE(fn);
    SC_RETURN_IF_ERROR(CheckString("name", name, name_len));
    std::string key(View(name, name_len));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          "the guard's name is empty");
    }
    if (options->rep.named_guards.contains(key)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "a guard named \"", key, "\" is registered already"));
    }
    std::string who = absl::StrCat("named guard \"", key, "\"");
    options->rep.named_guards.emplace(
        std::move(key),
        [fn, user_data, who = std::move(who)](const AttributeReader& reader) {
          StepScope* scope = g_step_scope;
          const sc_deal_view_t view{scope ? scope->machine : nullptr, &reader};
          uint8_t holds = 0;
          const int32_t rc = fn(user_data, &view, &holds);
          if (rc != 0) {
            if (scope != nullptr) scope->guard_failure.Record(who, rc);
            return false;
          }
          return holds != 0;
        });
    return absl::OkStatus();
  });
}

namespace {

template <typename Store>
sc_status ReadView(const char* fn, const sc_deal_view_t* deal,
                   uint32_t attribute, AttributeType type, const void* out,
                   Store&& store, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (deal == nullptr || out == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          deal == nullptr ? "deal" : "out", " is NULL"));
    }
    if (deal->machine == nullptr) {
      return absl::FailedPreconditionError(
          "the deal view is used outside its guard call");
    }
    SC_ASSIGN_OR_RETURN(AttributeId id,
                        CheckAttribute(*deal->machine, attribute, type));
    store(*deal->reader, id);
    return absl::OkStatus();
  });
}

}  // namespace

sc_status sc_deal_view_is_set(uint8_t* out, const sc_deal_view_t* deal,
                              uint32_t attribute, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(deal);
    if (deal->machine == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the deal view is used outside its guard call"));
    }
    SC_RETURN_IF_ERROR(CheckId("attribute", attribute,
                               deal->machine->num_attributes(),
                               *deal->machine));
    *out = deal->reader->IsSet(static_cast<AttributeId>(attribute)) ? 1 : 0;
    return absl::OkStatus();
  });
}

sc_status sc_deal_view_get_int64(int64_t* out, const sc_deal_view_t* deal,
                                 uint32_t attribute, char** errmsg) {
  return ReadView(__func__, deal, attribute, AttributeType::kInt64, out,
                  [&](const AttributeReader& r, AttributeId id) {
                    *out = r.GetInt64(id);
                  }, errmsg);
}

sc_status sc_deal_view_get_double(double* out, const sc_deal_view_t* deal,
                                  uint32_t attribute, char** errmsg) {
  return ReadView(__func__, deal, attribute, AttributeType::kDouble, out,
                  [&](const AttributeReader& r, AttributeId id) {
                    *out = r.GetDouble(id);
                  }, errmsg);
}

sc_status sc_deal_view_get_bool(uint8_t* out, const sc_deal_view_t* deal,
                                uint32_t attribute, char** errmsg) {
  return ReadView(__func__, deal, attribute, AttributeType::kBool, out,
                  [&](const AttributeReader& r, AttributeId id) {
                    *out = r.GetBool(id) ? 1 : 0;
                  }, errmsg);
}

sc_status sc_deal_view_get_string(const char** out_data, size_t* out_len,
                                  const sc_deal_view_t* deal,
                                  uint32_t attribute, char** errmsg) {
  if (out_len == nullptr) out_data = nullptr;  // reported as out is NULL
  return ReadView(__func__, deal, attribute, AttributeType::kString, out_data,
                  [&](const AttributeReader& r, AttributeId id) {
                    const absl::string_view s = r.GetString(id);
                    *out_data = s.data();
                    *out_len = s.size();
                  }, errmsg);
}

// ---- machines

namespace {

template <typename Load>
sc_status LoadMachine(const char* fn, sc_machine_t** out,
                      const sc_compile_options_t* options, Load&& load,
                      char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (out == nullptr) {
      return absl::InvalidArgumentError("out is NULL");
    }
    static const salescycle::CompileOptions kDefaults;
    SC_ASSIGN_OR_RETURN(std::shared_ptr<const Machine> machine,
                        load(options != nullptr ? options->rep : kDefaults));
    *out = new sc_machine_t{std::move(machine)};
    return absl::OkStatus();
  });
}

}  // namespace

sc_status sc_machine_from_text(sc_machine_t** out, const char* text,
                               size_t text_len,
                               const sc_compile_options_t* options,
                               char** errmsg) {
  return LoadMachine(__func__, out, options,
                     [&](const salescycle::CompileOptions& o)
                         -> absl::StatusOr<std::shared_ptr<const Machine>> {
                       SC_RETURN_IF_ERROR(CheckBuffer("text", text, text_len));
                       return Machine::FromTextProto(View(text, text_len), o);
                     }, errmsg);
}

sc_status sc_machine_from_json(sc_machine_t** out, const char* json,
                               size_t json_len,
                               const sc_compile_options_t* options,
                               char** errmsg) {
  return LoadMachine(__func__, out, options,
                     [&](const salescycle::CompileOptions& o)
                         -> absl::StatusOr<std::shared_ptr<const Machine>> {
                       SC_RETURN_IF_ERROR(CheckBuffer("json", json, json_len));
                       return Machine::FromJson(View(json, json_len), o);
                     }, errmsg);
}

sc_status sc_machine_from_file(sc_machine_t** out, const char* path,
                               const sc_compile_options_t* options,
                               char** errmsg) {
  return LoadMachine(__func__, out, options,
                     [&](const salescycle::CompileOptions& o)
                         -> absl::StatusOr<std::shared_ptr<const Machine>> {
                       if (path == nullptr) {
                         return absl::InvalidArgumentError("path is NULL");
                       }
                       return Machine::FromFile(path, o);
                     }, errmsg);
}

void sc_machine_destroy(sc_machine_t* machine) { delete machine; }

namespace {

// A scalar property of a machine, for the accessors below.
template <typename T, typename Read>
sc_status MachineProperty(const char* fn, T* out, const sc_machine_t* machine,
                          Read&& read, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    if (out == nullptr) {
      return absl::InvalidArgumentError("out is NULL");
    }
    *out = read(*machine->rep);
    return absl::OkStatus();
  });
}

// A property of one stage, event or attribute, by id.
template <typename T, typename Read>
sc_status ElementProperty(const char* fn, T* out, const sc_machine_t* machine,
                          const char* what, uint32_t id,
                          int (Machine::*count)() const, Read&& read,
                          char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    if (out == nullptr) {
      return absl::InvalidArgumentError("out is NULL");
    }
    const Machine& m = *machine->rep;
    SC_RETURN_IF_ERROR(CheckId(what, id, (m.*count)(), m));
    *out = read(m, static_cast<uint16_t>(id));
    return absl::OkStatus();
  });
}

template <typename Find>
sc_status FindByName(const char* fn, uint32_t* out, const sc_machine_t* machine,
                     const char* name, size_t name_len, Find&& find,
                     char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    if (out == nullptr) {
      return absl::InvalidArgumentError("out is NULL");
    }
    SC_RETURN_IF_ERROR(CheckString("name", name, name_len));
    SC_ASSIGN_OR_RETURN(uint16_t id, find(*machine->rep, View(name, name_len)));
    *out = id;
    return absl::OkStatus();
  });
}

}  // namespace

sc_status sc_machine_name(const char** out, const sc_machine_t* machine,
                          char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.name().c_str(); },
                         errmsg);
}
sc_status sc_machine_spec_json(char** out_data, size_t* out_len,
                               const sc_machine_t* machine, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(machine);
    return Give(out_data, out_len, machine->rep->SpecJson());
  });
}
sc_status sc_machine_version(uint32_t* out, const sc_machine_t* machine,
                             char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.version(); }, errmsg);
}
sc_status sc_machine_fingerprint(uint64_t* out, const sc_machine_t* machine,
                                 char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.fingerprint(); },
                         errmsg);
}
sc_status sc_machine_num_stages(uint32_t* out, const sc_machine_t* machine,
                                char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.num_stages(); },
                         errmsg);
}
sc_status sc_machine_num_events(uint32_t* out, const sc_machine_t* machine,
                                char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.num_events(); },
                         errmsg);
}
sc_status sc_machine_num_attributes(uint32_t* out, const sc_machine_t* machine,
                                    char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.num_attributes(); },
                         errmsg);
}
sc_status sc_machine_initial_stage(uint32_t* out, const sc_machine_t* machine,
                                   char** errmsg) {
  return MachineProperty(__func__, out, machine,
                         [](const Machine& m) { return m.initial_stage(); },
                         errmsg);
}

sc_status sc_machine_find_stage(uint32_t* out, const sc_machine_t* machine,
                                const char* name, size_t name_len,
                                char** errmsg) {
  return FindByName(__func__, out, machine, name, name_len,
                    [](const Machine& m, absl::string_view n) {
                      return m.FindStage(n);
                    }, errmsg);
}
sc_status sc_machine_find_event(uint32_t* out, const sc_machine_t* machine,
                                const char* name, size_t name_len,
                                char** errmsg) {
  return FindByName(__func__, out, machine, name, name_len,
                    [](const Machine& m, absl::string_view n) {
                      return m.FindEvent(n);
                    }, errmsg);
}
sc_status sc_machine_find_attribute(uint32_t* out, const sc_machine_t* machine,
                                    const char* name, size_t name_len,
                                    char** errmsg) {
  return FindByName(__func__, out, machine, name, name_len,
                    [](const Machine& m, absl::string_view n) {
                      return m.FindAttribute(n);
                    }, errmsg);
}

sc_status sc_machine_stage_name(const char** out, const sc_machine_t* machine,
                                uint32_t stage, char** errmsg) {
  return ElementProperty(__func__, out, machine, "stage", stage,
                         &Machine::num_stages,
                         [](const Machine& m, uint16_t id) {
                           return m.stage(id).id.c_str();
                         }, errmsg);
}
sc_status sc_machine_event_name(const char** out, const sc_machine_t* machine,
                                uint32_t event, char** errmsg) {
  return ElementProperty(__func__, out, machine, "event", event,
                         &Machine::num_events,
                         [](const Machine& m, uint16_t id) {
                           return m.event(id).id.c_str();
                         }, errmsg);
}
sc_status sc_machine_attribute_name(const char** out,
                                    const sc_machine_t* machine,
                                    uint32_t attribute, char** errmsg) {
  return ElementProperty(__func__, out, machine, "attribute", attribute,
                         &Machine::num_attributes,
                         [](const Machine& m, uint16_t id) {
                           return m.attribute(id).name.c_str();
                         }, errmsg);
}
sc_status sc_machine_stage_kind(int32_t* out, const sc_machine_t* machine,
                                uint32_t stage, char** errmsg) {
  return ElementProperty(__func__, out, machine, "stage", stage,
                         &Machine::num_stages,
                         [](const Machine& m, uint16_t id) {
                           return static_cast<int32_t>(m.stage(id).kind);
                         }, errmsg);
}
sc_status sc_machine_attribute_type(int32_t* out, const sc_machine_t* machine,
                                    uint32_t attribute, char** errmsg) {
  return ElementProperty(__func__, out, machine, "attribute", attribute,
                         &Machine::num_attributes,
                         [](const Machine& m, uint16_t id) {
                           return static_cast<int32_t>(m.attribute(id).type);
                         }, errmsg);
}

// ---- options

sc_options_t* sc_options_create(void) { return new (std::nothrow) sc_options_t; }
void sc_options_destroy(sc_options_t* options) { delete options; }

sc_status sc_options_set_history_limit(sc_options_t* options, uint32_t limit,
                                       char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    if (limit > salescycle::kMaxHistoryLimit) {
      return absl::InvalidArgumentError(
          absl::StrCat("history limit ", limit, " is more than ",
                       salescycle::kMaxHistoryLimit));
    }
    options->rep.history_limit = limit;
    return absl::OkStatus();
  });
}

sc_status sc_options_set_expected_deals(sc_options_t* options, uint64_t deals,
                                        char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    if (deals >= salescycle::kNoDeal) {
      return absl::InvalidArgumentError(absl::StrCat(
          deals, " deals is more than a pipeline holds"));
    }
    options->rep.expected_deals = static_cast<size_t>(deals);
    return absl::OkStatus();
  });
}

sc_status sc_options_set_analytics(sc_options_t* options, uint8_t enabled,
                                   int32_t cohort, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    if (cohort < SC_COHORT_NONE || cohort > SC_COHORT_QUARTER) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cohort ", cohort, " is not SC_COHORT_NONE, _WEEK, _MONTH or _QUARTER"));
    }
    options->rep.analytics.enabled = enabled != 0;
    options->rep.analytics.cohort = static_cast<salescycle::Cohort>(cohort);
    return absl::OkStatus();
  });
}

// ---- pipelines

sc_status sc_pipeline_create(sc_pipeline_t** out, const sc_machine_t* machine,
                             const sc_options_t* options, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_ASSIGN_OR_RETURN(
        Pipeline pipeline,
        Pipeline::Create(machine->rep, options != nullptr
                                           ? options->rep
                                           : salescycle::PipelineOptions()));
    *out = new sc_pipeline_t(std::move(pipeline));
    return absl::OkStatus();
  });
}

void sc_pipeline_destroy(sc_pipeline_t* pipeline) { delete pipeline; }

namespace {

// SC_NONE (or anything past a stage id) as the core's "no stage"; a real
// id past the machine's stages is refused by the core, naming it.
StageId EntryStage(uint32_t stage) {
  return stage == SC_NONE || stage > salescycle::kMaxStages
             ? salescycle::kNoStage
             : static_cast<StageId>(stage);
}

absl::Status CheckEntryStageId(uint32_t stage, const Machine& m) {
  if (stage == SC_NONE) return absl::OkStatus();
  return CheckId("stage", stage, m.num_stages(), m);
}

}  // namespace

namespace {

// The six ways to add a deal: `add(entry_stage)` adds it.
template <typename AddFn>
sc_status AddDeal(const char* fn, uint32_t* out, sc_pipeline_t* pipeline,
                  uint32_t stage, char** errmsg, AddFn&& add) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    SC_RETURN_IF_ERROR(CheckEntryStageId(stage, pipeline->rep.machine()));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    SC_ASSIGN_OR_RETURN(const uint32_t deal, add(EntryStage(stage)));
    *out = deal;  // the deal is added even when a change observer failed
    return stepping.Finish();
  });
}

}  // namespace

sc_status sc_pipeline_add_in_stage(uint32_t* out, sc_pipeline_t* pipeline,
                                   uint32_t stage, int64_t time,
                                   char** errmsg) {
  return AddDeal(__func__, out, pipeline, stage, errmsg, [&](StageId entry) {
    return pipeline->rep.Add(time, entry);
  });
}

sc_status sc_pipeline_add_with_id_in_stage(uint32_t* out,
                                           sc_pipeline_t* pipeline,
                                           uint64_t id, uint32_t stage,
                                           int64_t time, char** errmsg) {
  return AddDeal(__func__, out, pipeline, stage, errmsg, [&](StageId entry) {
    return pipeline->rep.AddWithId(id, time, entry);
  });
}

namespace {

auto AddWithKey(sc_pipeline_t* pipeline, const char* key, size_t key_len,
                int64_t time) {
  return [=](StageId entry) -> absl::StatusOr<uint32_t> {
    SC_RETURN_IF_ERROR(CheckString("key", key, key_len));
    return pipeline->rep.AddWithKey(View(key, key_len), time, entry);
  };
}

}  // namespace

sc_status sc_pipeline_add_with_key_in_stage(uint32_t* out,
                                            sc_pipeline_t* pipeline,
                                            const char* key, size_t key_len,
                                            uint32_t stage, int64_t time,
                                            char** errmsg) {
  return AddDeal(__func__, out, pipeline, stage, errmsg,
                 AddWithKey(pipeline, key, key_len, time));
}

sc_status sc_pipeline_add(uint32_t* out, sc_pipeline_t* pipeline, int64_t time,
                          char** errmsg) {
  return AddDeal(__func__, out, pipeline, SC_NONE, errmsg, [&](StageId entry) {
    return pipeline->rep.Add(time, entry);
  });
}

sc_status sc_pipeline_add_with_id(uint32_t* out, sc_pipeline_t* pipeline,
                                  uint64_t id, int64_t time, char** errmsg) {
  return AddDeal(__func__, out, pipeline, SC_NONE, errmsg, [&](StageId entry) {
    return pipeline->rep.AddWithId(id, time, entry);
  });
}

sc_status sc_pipeline_add_with_key(uint32_t* out, sc_pipeline_t* pipeline,
                                   const char* key, size_t key_len,
                                   int64_t time, char** errmsg) {
  return AddDeal(__func__, out, pipeline, SC_NONE, errmsg,
                 AddWithKey(pipeline, key, key_len, time));
}

sc_status sc_pipeline_remove(sc_pipeline_t* pipeline, uint32_t deal,
                             char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    SC_RETURN_IF_ERROR(pipeline->rep.Remove(deal));
    return stepping.Finish();
  });
}

sc_status sc_pipeline_find_by_id(uint32_t* out, const sc_pipeline_t* pipeline,
                                 uint64_t id, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    SC_ASSIGN_OR_RETURN(*out, pipeline->rep.FindById(id));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_find_by_key(uint32_t* out, const sc_pipeline_t* pipeline,
                                  const char* key, size_t key_len,
                                  char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckString("key", key, key_len));
    SC_ASSIGN_OR_RETURN(*out, pipeline->rep.FindByKey(View(key, key_len)));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_size(uint64_t* out, const sc_pipeline_t* pipeline,
                           char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    *out = pipeline->rep.size();
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_deal_stage(uint32_t* out_stage, int64_t* out_entered_at,
                                 const sc_pipeline_t* pipeline, uint32_t deal,
                                 char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(pipeline->rep.CheckLive(deal));
    if (out_stage != nullptr) *out_stage = pipeline->rep.stage(deal);
    if (out_entered_at != nullptr) {
      *out_entered_at = pipeline->rep.entered_at(deal);
    }
    return absl::OkStatus();
  });
}



namespace {

// What the attribute setters set and the getters store, by type.
auto Int64Value(int64_t v) {
  return [v]() -> absl::StatusOr<AttributeValue> {
    return AttributeValue::Int64(v);
  };
}
auto DoubleValue(double v) {
  return [v]() -> absl::StatusOr<AttributeValue> {
    return AttributeValue::Double(v);
  };
}
auto BoolValue(uint8_t v) {
  return [v]() -> absl::StatusOr<AttributeValue> {
    return AttributeValue::Bool(v != 0);
  };
}
auto StringValue(const char* data, size_t len) {
  return [=]() -> absl::StatusOr<AttributeValue> {
    SC_RETURN_IF_ERROR(CheckString("value", data, len));
    return AttributeValue::String(std::string(View(data, len)));
  };
}
auto StoreInt64(int64_t* out) {
  return [out](const AttributeValue& v) {
    *out = v.int64_value();
    return absl::OkStatus();
  };
}
auto StoreDouble(double* out) {
  return [out](const AttributeValue& v) {
    *out = v.double_value();
    return absl::OkStatus();
  };
}
auto StoreBool(uint8_t* out) {
  return [out](const AttributeValue& v) {
    *out = v.bool_value() ? 1 : 0;
    return absl::OkStatus();
  };
}
auto StoreString(char** out_data, size_t* out_len) {
  return [=](const AttributeValue& v) {
    return Give(out_data, out_len, v.string_value());
  };
}

// One stepping call on a pipeline or journey: `step` fires and returns the
// StepResult. The outcome is written on SC_ABORTED too: the step stands.
template <typename Handle, typename StepFn>
sc_status Fire(const char* fn, int32_t* out_outcome, Handle* handle,
               StepFn&& step, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (handle == nullptr || out_outcome == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          handle == nullptr ? "handle" : "out_outcome", " is NULL"));
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(handle->observers));
    Stepping stepping(handle->rep.machine(), &handle->observers);
    SC_ASSIGN_OR_RETURN(StepResult result, step());
    *out_outcome = static_cast<int32_t>(result.outcome);
    return stepping.Finish();
  });
}

template <typename Handle>
sc_status AdvanceTo(const char* fn, uint64_t* out_fired, Handle* handle,
                    int64_t now, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (handle == nullptr) {
      return absl::InvalidArgumentError("handle is NULL");
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(handle->observers));
    Stepping stepping(handle->rep.machine(), &handle->observers);
    const auto fired = handle->rep.AdvanceTo(now);
    if (out_fired != nullptr) *out_fired = static_cast<uint64_t>(fired);
    return stepping.Finish();
  });
}

}  // namespace


sc_status sc_pipeline_set_int64(sc_pipeline_t* pipeline, uint32_t deal,
                                uint32_t attribute, int64_t value,
                                char** errmsg) {
  return SetValue(__func__, pipeline, PipelineDeal{pipeline, deal}, attribute,
                  AttributeType::kInt64, Int64Value(value), errmsg);
}
sc_status sc_pipeline_set_double(sc_pipeline_t* pipeline, uint32_t deal,
                                 uint32_t attribute, double value,
                                 char** errmsg) {
  return SetValue(__func__, pipeline, PipelineDeal{pipeline, deal}, attribute,
                  AttributeType::kDouble, DoubleValue(value), errmsg);
}
sc_status sc_pipeline_set_bool(sc_pipeline_t* pipeline, uint32_t deal,
                               uint32_t attribute, uint8_t value,
                               char** errmsg) {
  return SetValue(__func__, pipeline, PipelineDeal{pipeline, deal}, attribute,
                  AttributeType::kBool, BoolValue(value), errmsg);
}
sc_status sc_pipeline_set_string(sc_pipeline_t* pipeline, uint32_t deal,
                                 uint32_t attribute, const char* value,
                                 size_t value_len, char** errmsg) {
  return SetValue(__func__, pipeline, PipelineDeal{pipeline, deal}, attribute,
                  AttributeType::kString,
                  StringValue(value, value_len), errmsg);
}
sc_status sc_pipeline_is_set(uint8_t* out, const sc_pipeline_t* pipeline,
                             uint32_t deal, uint32_t attribute,
                             char** errmsg) {
  auto* p = const_cast<sc_pipeline_t*>(pipeline);  // read only
  return IsSetValue(__func__, p, PipelineDeal{p, deal}, attribute, out,
                    errmsg);
}
sc_status sc_pipeline_get_int64(int64_t* out, const sc_pipeline_t* pipeline,
                                uint32_t deal, uint32_t attribute,
                                char** errmsg) {
  auto* p = const_cast<sc_pipeline_t*>(pipeline);  // read only
  return GetValue(__func__, p, PipelineDeal{p, deal}, attribute,
                  AttributeType::kInt64, out, StoreInt64(out), errmsg);
}
sc_status sc_pipeline_get_double(double* out, const sc_pipeline_t* pipeline,
                                 uint32_t deal, uint32_t attribute,
                                 char** errmsg) {
  auto* p = const_cast<sc_pipeline_t*>(pipeline);  // read only
  return GetValue(__func__, p, PipelineDeal{p, deal}, attribute,
                  AttributeType::kDouble, out, StoreDouble(out), errmsg);
}
sc_status sc_pipeline_get_bool(uint8_t* out, const sc_pipeline_t* pipeline,
                               uint32_t deal, uint32_t attribute,
                               char** errmsg) {
  auto* p = const_cast<sc_pipeline_t*>(pipeline);  // read only
  return GetValue(__func__, p, PipelineDeal{p, deal}, attribute,
                  AttributeType::kBool, out, StoreBool(out), errmsg);
}
sc_status sc_pipeline_get_string(char** out_data, size_t* out_len,
                                 const sc_pipeline_t* pipeline, uint32_t deal,
                                 uint32_t attribute, char** errmsg) {
  auto* p = const_cast<sc_pipeline_t*>(pipeline);  // read only
  return GetValue(__func__, p, PipelineDeal{p, deal}, attribute,
                  AttributeType::kString,
                  out_len == nullptr ? nullptr : out_data,
                  StoreString(out_data, out_len), errmsg);
}

sc_status sc_pipeline_fire(int32_t* out_outcome, sc_pipeline_t* pipeline,
                           uint32_t deal, uint32_t event, int64_t time,
                           char** errmsg) {
  return Fire(__func__, out_outcome, pipeline, [&]() -> absl::StatusOr<StepResult> {
    const Machine& m = pipeline->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("event", event, m.num_events(), m));
    return pipeline->rep.Fire(deal, static_cast<EventId>(event), time);
  }, errmsg);
}

sc_status sc_pipeline_fire_by_name(int32_t* out_outcome,
                                   sc_pipeline_t* pipeline, uint32_t deal,
                                   const char* event, size_t event_len,
                                   int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, pipeline, [&]() -> absl::StatusOr<StepResult> {
    SC_RETURN_IF_ERROR(CheckString("event", event, event_len));
    return pipeline->rep.Fire(deal, View(event, event_len), time);
  }, errmsg);
}

sc_status sc_pipeline_move_to(int32_t* out_outcome, sc_pipeline_t* pipeline,
                              uint32_t deal, uint32_t stage, int64_t time,
                              char** errmsg) {
  return Fire(__func__, out_outcome, pipeline, [&]() -> absl::StatusOr<StepResult> {
    const Machine& m = pipeline->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("stage", stage, m.num_stages(), m));
    return pipeline->rep.MoveTo(deal, static_cast<StageId>(stage), time);
  }, errmsg);
}

sc_status sc_pipeline_move_to_by_name(int32_t* out_outcome,
                                      sc_pipeline_t* pipeline, uint32_t deal,
                                      const char* stage, size_t stage_len,
                                      int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, pipeline, [&]() -> absl::StatusOr<StepResult> {
    SC_RETURN_IF_ERROR(CheckString("stage", stage, stage_len));
    return pipeline->rep.MoveTo(deal, View(stage, stage_len), time);
  }, errmsg);
}

sc_status sc_pipeline_reopen(int32_t* out_outcome, sc_pipeline_t* pipeline,
                             uint32_t deal, int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, pipeline, [&]() -> absl::StatusOr<StepResult> {
    return pipeline->rep.Reopen(deal, time);
  }, errmsg);
}

sc_status sc_pipeline_apply_moves(uint64_t* out_accepted,
                                  uint64_t* out_rejected,
                                  sc_pipeline_t* pipeline,
                                  const sc_stage_record* records, size_t count,
                                  char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckRecords(records, count, sizeof(sc_stage_record)));
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    const auto batch = absl::MakeConstSpan(
        reinterpret_cast<const salescycle::StageRecord*>(records), count);
    SC_ASSIGN_OR_RETURN(const salescycle::BatchResult result,
                        pipeline->rep.ApplyMoves(batch));
    if (out_accepted != nullptr) *out_accepted = result.accepted;
    if (out_rejected != nullptr) *out_rejected = result.rejected;
    return stepping.Finish();
  });
}

sc_status sc_pipeline_deal_lifecycle(int64_t* out_last_activity,
                                     uint32_t* out_closed_from,
                                     uint32_t* out_cycle,
                                     const sc_pipeline_t* pipeline,
                                     uint32_t deal, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    const salescycle::Pipeline& p = pipeline->rep;
    SC_RETURN_IF_ERROR(p.CheckLive(deal));
    if (out_last_activity != nullptr) *out_last_activity = p.last_activity(deal);
    if (out_closed_from != nullptr) {
      *out_closed_from = p.closed_from(deal) == salescycle::kNoStage
                             ? SC_NONE
                             : p.closed_from(deal);
    }
    if (out_cycle != nullptr) *out_cycle = p.cycle(deal);
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_loss_reason(char** out_data, size_t* out_len,
                                  const sc_pipeline_t* pipeline, uint32_t deal,
                                  char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(pipeline->rep.CheckLive(deal));
    return Give(out_data, out_len, pipeline->rep.LossReason(deal));
  });
}

namespace {

// `threads` 0: one thread, through Pipeline::Apply.
sc_status ApplyBatch(const char* fn, uint64_t* out_accepted,
                     uint64_t* out_rejected, uint32_t* out_threads,
                     sc_pipeline_t* pipeline,
                     const sc_event_record* records, size_t count,
                     uint32_t threads, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckRecords(records, count, sizeof(sc_event_record)));
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    // The layouts are one (static_asserts above), and the records are only
    // read: the caller's array is the batch.
    const auto batch = absl::MakeConstSpan(
        reinterpret_cast<const salescycle::EventRecord*>(records), count);
    SC_ASSIGN_OR_RETURN(
        salescycle::BatchResult result,
        threads == 0
            ? pipeline->rep.ApplySharedBuffer(batch)
            : pipeline->rep.ApplyParallel(
                  batch, static_cast<int>(std::min<uint32_t>(threads, 1u << 20))));
    if (out_accepted != nullptr) *out_accepted = result.accepted;
    if (out_rejected != nullptr) *out_rejected = result.rejected;
    if (out_threads != nullptr) {
      *out_threads = static_cast<uint32_t>(result.threads);
    }
    return stepping.Finish();
  });
}

}  // namespace

sc_status sc_pipeline_apply(uint64_t* out_accepted, uint64_t* out_rejected,
                            sc_pipeline_t* pipeline,
                            const sc_event_record* records, size_t count,
                            char** errmsg) {
  return ApplyBatch(__func__, out_accepted, out_rejected, nullptr, pipeline,
                    records, count, 0, errmsg);
}

sc_status sc_pipeline_apply_parallel(uint64_t* out_accepted,
                                     uint64_t* out_rejected,
                                     uint32_t* out_threads,
                                     sc_pipeline_t* pipeline,
                                     const sc_event_record* records,
                                     size_t count, uint32_t threads,
                                     char** errmsg) {
  if (threads == 0) {
    return Report(absl::StatusCode::kInvalidArgument, __func__,
                  "threads is 0; it must be 1 to 64", errmsg);
  }
  return ApplyBatch(__func__, out_accepted, out_rejected, out_threads,
                    pipeline, records, count, threads, errmsg);
}

namespace {

// The outs of the batches at offsets.
void GiveBatch(const salescycle::BatchResult& result, uint64_t* out_accepted,
               uint64_t* out_rejected, uint64_t* out_skipped) {
  if (out_accepted != nullptr) *out_accepted = result.accepted;
  if (out_rejected != nullptr) *out_rejected = result.rejected;
  if (out_skipped != nullptr) *out_skipped = result.skipped;
}

salescycle::ApplyMode ModeOf(uint8_t timed) {
  return timed != 0 ? salescycle::ApplyMode::kTimed : salescycle::ApplyMode::kInOrder;
}

// A batch at offsets on a pipeline: `apply(source, batch)` with the records
// as the core's type.
template <typename Record, typename Apply>
sc_status PipelineBatchAt(const char* fn, uint64_t* out_accepted, uint64_t* out_rejected,
                          uint64_t* out_skipped, sc_pipeline_t* pipeline, const char* source,
                          size_t source_len, const Record* records, size_t count,
                          char** errmsg, Apply&& apply) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckBuffer("source", source, source_len));
    SC_RETURN_IF_ERROR(CheckRecords(records, count, sizeof(Record)));
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    SC_ASSIGN_OR_RETURN(const salescycle::BatchResult result,
                        apply(View(source, source_len), count));
    GiveBatch(result, out_accepted, out_rejected, out_skipped);
    return stepping.Finish();
  });
}

}  // namespace

sc_status sc_pipeline_apply_at(uint64_t* out_accepted, uint64_t* out_rejected,
                               uint64_t* out_skipped, sc_pipeline_t* pipeline,
                               const char* source, size_t source_len, uint64_t first_offset,
                               const sc_event_record* records, size_t count, uint8_t timed,
                               char** errmsg) {
  return PipelineBatchAt(
      __func__, out_accepted, out_rejected, out_skipped, pipeline, source, source_len, records,
      count, errmsg, [&](absl::string_view name, size_t n) {
        return salescycle::internal::PipelineInternal::ApplyAtShared(
            &pipeline->rep, name, first_offset,
            absl::MakeConstSpan(reinterpret_cast<const salescycle::EventRecord*>(records), n),
            ModeOf(timed));
      });
}

sc_status sc_pipeline_apply_moves_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                     uint64_t* out_skipped, sc_pipeline_t* pipeline,
                                     const char* source, size_t source_len,
                                     uint64_t first_offset, const sc_stage_record* records,
                                     size_t count, uint8_t timed, char** errmsg) {
  return PipelineBatchAt(
      __func__, out_accepted, out_rejected, out_skipped, pipeline, source, source_len, records,
      count, errmsg, [&](absl::string_view name, size_t n) {
        return pipeline->rep.ApplyMovesAt(
            name, first_offset,
            absl::MakeConstSpan(reinterpret_cast<const salescycle::StageRecord*>(records), n),
            ModeOf(timed));
      });
}

sc_status sc_pipeline_position(uint64_t* out, const sc_pipeline_t* pipeline, const char* source,
                               size_t source_len, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckBuffer("source", source, source_len));
    *out = pipeline->rep.Position(View(source, source_len));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_positions_json(char** out_data, size_t* out_len,
                                     const sc_pipeline_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(pipeline);
    salescycle::internal::JsonWriter json;
    json.Open('{');
    for (const auto& [source, next] : pipeline->rep.Positions()) json.Field(source, next);
    json.Close('}');
    return Give(out_data, out_len, json.Take());
  });
}

sc_status sc_pipeline_advance_to(uint64_t* out_fired, sc_pipeline_t* pipeline,
                                 int64_t now, char** errmsg) {
  return AdvanceTo(__func__, out_fired, pipeline, now, errmsg);
}

sc_status sc_pipeline_stage_count(uint64_t* out, const sc_pipeline_t* pipeline,
                                  uint32_t stage, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    const Machine& m = pipeline->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("stage", stage, m.num_stages(), m));
    *out = pipeline->rep.StageCount(static_cast<salescycle::StageId>(stage));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_deals_in_stage(uint32_t* out, size_t capacity, size_t* out_count,
                                     const sc_pipeline_t* pipeline, uint32_t stage,
                                     char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_count);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckRecords(out, capacity, sizeof(uint32_t)));
    const Machine& m = pipeline->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("stage", stage, m.num_stages(), m));
    const auto s = static_cast<salescycle::StageId>(stage);
    const uint64_t count = pipeline->rep.StageCount(s);
    if (capacity > 0 || out != nullptr) {
      if (capacity < count) {
        return absl::InvalidArgumentError(absl::StrCat(
            count, " deals are in stage \"", m.stage(s).id, "\"; the buffer holds ", capacity));
      }
      size_t n = 0;
      pipeline->rep.ForEachDealInStage(s, [&](salescycle::DealIndex deal) { out[n++] = deal; });
    }
    *out_count = static_cast<size_t>(count);
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_slot_count(uint64_t* out, const sc_pipeline_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    *out = pipeline->rep.slot_count();
    return absl::OkStatus();
  });
}

namespace {

// One value a slot into out[0 .. slots): `value(deal, live)`.
template <typename T, typename ValueFn>
absl::Status FillColumn(T* out, size_t capacity, const sc_pipeline_t* pipeline,
                        ValueFn&& value) {
  SC_C_REQUIRE(out);
  SC_C_REQUIRE(pipeline);
  SC_RETURN_IF_ERROR(CheckRecords(out, capacity, sizeof(T)));
  const Pipeline& p = pipeline->rep;
  const size_t slots = p.slot_count();
  if (capacity < slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the buffer holds ", capacity, " values; the pipeline has ", slots, " slots"));
  }
  for (size_t d = 0; d < slots; ++d) {
    const auto deal = static_cast<salescycle::DealIndex>(d);
    out[d] = value(deal, p.Contains(deal));
  }
  return absl::OkStatus();
}

}  // namespace

sc_status sc_pipeline_stage_column(uint32_t* out, size_t capacity, const sc_pipeline_t* pipeline,
                                   char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    return FillColumn(out, capacity, pipeline, [&](salescycle::DealIndex d, bool live) {
      return live ? uint32_t{pipeline->rep.stage(d)} : uint32_t{SC_NONE};
    });
  });
}

sc_status sc_pipeline_entered_at_column(int64_t* out, size_t capacity,
                                        const sc_pipeline_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    return FillColumn(out, capacity, pipeline, [&](salescycle::DealIndex d, bool live) {
      return live ? pipeline->rep.entered_at(d) : int64_t{0};
    });
  });
}

sc_status sc_pipeline_id_column(uint64_t* out, uint8_t* out_has_id, size_t capacity,
                                const sc_pipeline_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_has_id);
    SC_RETURN_IF_ERROR(CheckRecords(out_has_id, capacity, 1));
    SC_RETURN_IF_ERROR(FillColumn(out, capacity, pipeline, [&](salescycle::DealIndex d, bool) {
      const std::optional<uint64_t> id = pipeline->rep.IdOf(d);
      out_has_id[d] = id ? 1 : 0;
      return id.value_or(0);
    }));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_stage_counts(uint64_t* out, size_t capacity,
                                   const sc_pipeline_t* pipeline,
                                   char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    const Machine& m = pipeline->rep.machine();
    const size_t stages = static_cast<size_t>(m.num_stages());
    if (capacity < stages) {
      return absl::InvalidArgumentError(
          absl::StrCat("the buffer holds ", capacity,
                       " counts; machine \"", m.name(), "\" has ", stages,
                       " stages"));
    }
    for (size_t s = 0; s < stages; ++s) {
      out[s] = pipeline->rep.StageCount(static_cast<salescycle::StageId>(s));
    }
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_add_observer(uint64_t* out_token, sc_pipeline_t* pipeline,
                                   sc_observer_fn on_transition,
                                   sc_observer_fn on_rejection,
                                   void* user_data, char** errmsg) {
  return AddObserver(__func__, out_token,
                     pipeline != nullptr ? &pipeline->rep : nullptr,
                     pipeline != nullptr ? &pipeline->observers : nullptr,
                     on_transition, on_rejection, user_data, errmsg);
}

sc_status sc_pipeline_add_change_observer(uint64_t* out_token, sc_pipeline_t* pipeline,
                                          sc_change_fn on_change, void* user_data,
                                          char** errmsg) {
  if (on_change == nullptr) {
    return Report(absl::StatusCode::kInvalidArgument, __func__, "on_change is NULL", errmsg);
  }
  return AddObserver(__func__, out_token, pipeline != nullptr ? &pipeline->rep : nullptr,
                     pipeline != nullptr ? &pipeline->observers : nullptr, nullptr, nullptr,
                     user_data, errmsg, on_change);
}

sc_status sc_pipeline_remove_observer(sc_pipeline_t* pipeline, uint64_t token,
                                      char** errmsg) {
  return RemoveObserver(__func__, pipeline != nullptr ? &pipeline->rep : nullptr,
                        pipeline != nullptr ? &pipeline->observers : nullptr,
                        token, errmsg);
}

namespace {

absl::Status CheckFunnelFormat(int32_t format) {
  if (format < SC_FUNNEL_TABLE || format > SC_FUNNEL_TABLE_IN_ORDER) {
    return absl::InvalidArgumentError(
        absl::StrCat("format ", format, " is not one of SC_FUNNEL_*"));
  }
  return absl::OkStatus();
}

// The report in an SC_FUNNEL_* format, checked by CheckFunnelFormat.
absl::Status GiveReport(uint8_t** out_data, size_t* out_len,
                        const salescycle::FunnelReport& report, int32_t format) {
  switch (format) {
    case SC_FUNNEL_JSON: return Give(out_data, out_len, salescycle::FunnelJson(report));
    case SC_FUNNEL_CSV: return Give(out_data, out_len, salescycle::FunnelCsv(report));
    case SC_FUNNEL_SVG: return Give(out_data, out_len, salescycle::FunnelSvg(report));
    case SC_FUNNEL_PROTO: return Give(out_data, out_len, salescycle::FunnelProtoBytes(report));
    case SC_FUNNEL_TABLE_IN_ORDER: {
      salescycle::FunnelTableOptions in_order;
      in_order.in_order = true;
      return Give(out_data, out_len, salescycle::FunnelTable(report, in_order));
    }
    default: return Give(out_data, out_len, salescycle::FunnelTable(report));
  }
}

// The C options as FunnelOptions; NULL is the defaults.
absl::StatusOr<salescycle::FunnelOptions> FunnelOptionsOf(const sc_funnel_options* in) {
  salescycle::FunnelOptions out;
  if (in == nullptr) return out;
  // The fields this version reads end with created_to.
  constexpr size_t kKnown = offsetof(sc_funnel_options, created_to) + sizeof(int64_t);
  if (in->struct_size < kKnown) {
    return absl::InvalidArgumentError(absl::StrCat(
        "options.struct_size ", in->struct_size, " is smaller than this version's ", kKnown,
        ": set it to sizeof(sc_funnel_options)"));
  }
  if (in->value_attribute != nullptr) out.value_attribute = in->value_attribute;
  if (in->breakdown_attribute != nullptr) out.breakdown_attribute = in->breakdown_attribute;
  if (in->has_now != 0) out.now = in->now;
  if (in->has_closed_from != 0) out.closed_from = in->closed_from;
  if (in->has_closed_to != 0) out.closed_to = in->closed_to;
  if (in->has_created_from != 0) out.created_from = in->created_from;
  if (in->has_created_to != 0) out.created_to = in->created_to;
  return out;
}

}  // namespace

namespace {

// The funnel calls, with or without sc_funnel_options: one body each, the
// older functions' arguments put in an options struct. `fn` names the
// caller in errors.
sc_status PipelineFunnel(const char* fn, uint8_t** out_data, size_t* out_len,
                         const sc_pipeline_t* pipeline, int32_t format,
                         const sc_funnel_options* options, char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckFunnelFormat(format));
    SC_ASSIGN_OR_RETURN(const salescycle::FunnelOptions o, FunnelOptionsOf(options));
    SC_ASSIGN_OR_RETURN(const salescycle::FunnelReport report,
                        salescycle::FunnelOf(pipeline->rep, o));
    return GiveReport(out_data, out_len, report, format);
  });
}

sc_status CaptureFunnelState(const char* fn, sc_funnel_state_t** out,
                             const sc_pipeline_t* pipeline, const sc_funnel_options* options,
                             char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(pipeline);
    SC_ASSIGN_OR_RETURN(const salescycle::FunnelOptions o, FunnelOptionsOf(options));
    SC_ASSIGN_OR_RETURN(salescycle::FunnelState state,
                        salescycle::CaptureFunnel(pipeline->rep, o));
    *out = new sc_funnel_state_t{std::move(state)};
    return absl::OkStatus();
  });
}

sc_funnel_options OptionsOf(const char* value_attribute, const char* breakdown_attribute,
                            uint8_t has_now, int64_t now) {
  sc_funnel_options o = SC_FUNNEL_OPTIONS_INIT;
  o.value_attribute = value_attribute;
  o.breakdown_attribute = breakdown_attribute;
  o.has_now = has_now;
  o.now = now;
  return o;
}

}  // namespace

sc_status sc_pipeline_funnel(uint8_t** out_data, size_t* out_len,
                             const sc_pipeline_t* pipeline, int32_t format,
                             const char* value_attribute, uint8_t has_now,
                             int64_t now, char** errmsg) {
  const sc_funnel_options o = OptionsOf(value_attribute, nullptr, has_now, now);
  return PipelineFunnel(__func__, out_data, out_len, pipeline, format, &o, errmsg);
}

sc_status sc_pipeline_funnel_with(uint8_t** out_data, size_t* out_len,
                                  const sc_pipeline_t* pipeline, int32_t format,
                                  const sc_funnel_options* options, char** errmsg) {
  return PipelineFunnel(__func__, out_data, out_len, pipeline, format, options, errmsg);
}

sc_status sc_funnel_state_capture_with(sc_funnel_state_t** out, const sc_pipeline_t* pipeline,
                                       const sc_funnel_options* options, char** errmsg) {
  return CaptureFunnelState(__func__, out, pipeline, options, errmsg);
}

sc_status sc_funnel_state_capture(sc_funnel_state_t** out, const sc_pipeline_t* pipeline,
                                  const char* value_attribute,
                                  const char* breakdown_attribute, uint8_t has_now,
                                  int64_t now, char** errmsg) {
  const sc_funnel_options o = OptionsOf(value_attribute, breakdown_attribute, has_now, now);
  return CaptureFunnelState(__func__, out, pipeline, &o, errmsg);
}

sc_status sc_funnel_state_merge(sc_funnel_state_t* into, const sc_funnel_state_t* other,
                                char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(into);
    SC_C_REQUIRE(other);
    return into->rep.Merge(other->rep);
  });
}

sc_status sc_funnel_state_serialize(uint8_t** out_data, size_t* out_len,
                                    const sc_funnel_state_t* state, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(state);
    return Give(out_data, out_len, state->rep.Serialize());
  });
}

sc_status sc_funnel_state_parse(sc_funnel_state_t** out, const sc_machine_t* machine,
                                const uint8_t* data, size_t len, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(CheckBuffer("data", data, len));
    if (machine != nullptr) SC_RETURN_IF_ERROR(NamesAMachine(machine));
    const absl::string_view bytes(reinterpret_cast<const char*>(data),
                                  data == nullptr ? 0 : len);
    SC_ASSIGN_OR_RETURN(salescycle::FunnelState state,
                        machine == nullptr
                            ? salescycle::FunnelState::Parse(bytes)
                            : salescycle::FunnelState::Parse(bytes, machine->rep));
    *out = new sc_funnel_state_t{std::move(state)};
    return absl::OkStatus();
  });
}

sc_status sc_funnel_state_report(uint8_t** out_data, size_t* out_len,
                                 const sc_funnel_state_t* state, int32_t format,
                                 char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(state);
    SC_RETURN_IF_ERROR(CheckFunnelFormat(format));
    return GiveReport(out_data, out_len, salescycle::FunnelOf(state->rep), format);
  });
}

void sc_funnel_state_destroy(sc_funnel_state_t* state) { delete state; }

sc_status sc_pipeline_save(uint8_t** out_data, size_t* out_len,
                           const sc_pipeline_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(pipeline);
    std::string bytes;
    SC_RETURN_IF_ERROR(salescycle::SavePipeline(
        pipeline->rep, salescycle::SnapshotSink::Bytes(&bytes)));
    return Give(out_data, out_len, bytes);
  });
}

sc_status sc_pipeline_save_file(const sc_pipeline_t* pipeline,
                                const char* path, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_C_REQUIRE(path);
    return salescycle::SavePipeline(pipeline->rep,
                                    salescycle::SnapshotSink::File(path));
  });
}

namespace {

template <typename MakeSource>
sc_status LoadPipelineFrom(const char* fn, sc_pipeline_t** out,
                           const sc_machine_t* machine,
                           MakeSource&& make_source, const sc_limits_t* limits,
                           char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    if (out == nullptr) {
      return absl::InvalidArgumentError("out is NULL");
    }
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_ASSIGN_OR_RETURN(salescycle::SnapshotSource source, make_source());
    salescycle::RestoreOptions options;
    options.limits = LimitsOrDefaults(limits);
    SC_ASSIGN_OR_RETURN(Pipeline pipeline,
                        salescycle::LoadPipeline(source, machine->rep, options));
    *out = new sc_pipeline_t(std::move(pipeline));
    return absl::OkStatus();
  });
}

}  // namespace

sc_status sc_pipeline_deals_in_key_groups(uint32_t* out, size_t capacity, size_t* out_count,
                                          const sc_pipeline_t* pipeline, uint32_t num_groups,
                                          uint32_t first, uint32_t end, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_count);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckArray("out", out, capacity, sizeof(uint32_t)));
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    SC_ASSIGN_OR_RETURN(const std::vector<salescycle::DealIndex> deals,
                        salescycle::DealsInKeyGroups(pipeline->rep, groups, {first, end}));
    if (capacity > 0 || out != nullptr) {
      if (capacity < deals.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            deals.size(), " deals are in key groups [", first, ", ", end,
            "); the buffer holds ", capacity));
      }
      std::copy(deals.begin(), deals.end(), out);
    }
    *out_count = deals.size();
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_save_part(uint8_t** out_data, size_t* out_len,
                                const sc_pipeline_t* pipeline, const uint32_t* deals,
                                size_t count, int with_counters, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckArray("deals", deals, count, sizeof(uint32_t)));
    std::string bytes;
    SC_RETURN_IF_ERROR(salescycle::SavePipelinePart(
        pipeline->rep, absl::MakeConstSpan(deals, count),
        with_counters != 0 ? salescycle::PartCounters::kWithCounters
                           : salescycle::PartCounters::kWithout,
        salescycle::SnapshotSink::Bytes(&bytes)));
    return Give(out_data, out_len, bytes);
  });
}

sc_status sc_pipeline_load_parts(sc_pipeline_t** out, const sc_machine_t* machine,
                                 const uint8_t* const* data, const size_t* lens, size_t count,
                                 const sc_limits_t* limits, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_RETURN_IF_ERROR(CheckArray("data", data, count, sizeof(const uint8_t*)));
    SC_RETURN_IF_ERROR(CheckArray("lens", lens, count, sizeof(size_t)));
    std::vector<salescycle::SnapshotSource> sources;
    for (size_t i = 0; i < count; ++i) {
      SC_RETURN_IF_ERROR(CheckBuffer(absl::StrCat("data[", i, "]").c_str(), data[i], lens[i]));
      sources.push_back(salescycle::SnapshotSource::Bytes(
          View(reinterpret_cast<const char*>(data[i]), lens[i])));
    }
    salescycle::RestoreOptions options;
    options.limits = LimitsOrDefaults(limits);
    SC_ASSIGN_OR_RETURN(Pipeline pipeline,
                        salescycle::LoadPipelines(sources, machine->rep, options));
    *out = new sc_pipeline_t(std::move(pipeline));
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_load(sc_pipeline_t** out, const sc_machine_t* machine,
                           const uint8_t* data, size_t len, char** errmsg) {
  return sc_pipeline_load_with_limits(out, machine, data, len, nullptr, errmsg);
}

sc_status sc_pipeline_load_file(sc_pipeline_t** out,
                                const sc_machine_t* machine, const char* path,
                                char** errmsg) {
  return sc_pipeline_load_file_with_limits(out, machine, path, nullptr, errmsg);
}

sc_status sc_pipeline_load_with_limits(sc_pipeline_t** out,
                                       const sc_machine_t* machine,
                                       const uint8_t* data, size_t len,
                                       const sc_limits_t* limits,
                                       char** errmsg) {
  return LoadPipelineFrom(
      __func__, out, machine,
      [&]() -> absl::StatusOr<salescycle::SnapshotSource> {
        SC_RETURN_IF_ERROR(CheckBuffer("data", data, len));
        return salescycle::SnapshotSource::Bytes(
            View(reinterpret_cast<const char*>(data), len));
      },
      limits, errmsg);
}

sc_status sc_pipeline_load_file_with_limits(sc_pipeline_t** out,
                                            const sc_machine_t* machine,
                                            const char* path,
                                            const sc_limits_t* limits,
                                            char** errmsg) {
  return LoadPipelineFrom(
      __func__, out, machine,
      [&]() -> absl::StatusOr<salescycle::SnapshotSource> {
        if (path == nullptr) {
          return absl::InvalidArgumentError(
              "path is NULL");
        }
        return salescycle::SnapshotSource::File(path);
      },
      limits, errmsg);
}

// ---- journeys

namespace {

sc_status CreateJourney(const char* fn, sc_journey_t** out,
                        const sc_machine_t* machine, uint32_t stage,
                        int64_t start, const sc_options_t* options,
                        char** errmsg) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_RETURN_IF_ERROR(CheckEntryStageId(stage, *machine->rep));
    salescycle::JourneyOptions journey_options;
    if (options != nullptr) {
      journey_options.history_limit = options->rep.history_limit;
    }
    journey_options.entry_stage = EntryStage(stage);
    SC_ASSIGN_OR_RETURN(Journey journey,
                        Journey::Create(machine->rep, start, journey_options));
    *out = new sc_journey_t{std::move(journey), Observers()};
    return absl::OkStatus();
  });
}

}  // namespace

sc_status sc_journey_create_in_stage(sc_journey_t** out,
                                     const sc_machine_t* machine,
                                     uint32_t stage, int64_t start,
                                     const sc_options_t* options,
                                     char** errmsg) {
  return CreateJourney(__func__, out, machine, stage, start, options, errmsg);
}

sc_status sc_journey_create(sc_journey_t** out, const sc_machine_t* machine,
                            int64_t start, const sc_options_t* options,
                            char** errmsg) {
  return CreateJourney(__func__, out, machine, SC_NONE, start, options, errmsg);
}

sc_status sc_journey_clone(sc_journey_t** out, const sc_journey_t* journey,
                           char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_C_REQUIRE(journey);
    auto clone = std::unique_ptr<sc_journey_t>(
        new sc_journey_t{journey->rep, Observers()});
    // A copied Journey shares its observers; the clone's handle has none.
    for (const auto& observer : journey->observers.list) {
      clone->rep.RemoveObserver(observer.get());
    }
    *out = clone.release();
    return absl::OkStatus();
  });
}

void sc_journey_destroy(sc_journey_t* journey) { delete journey; }

sc_status sc_journey_stage(uint32_t* out_stage, int64_t* out_entered_at,
                           const sc_journey_t* journey, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(journey);
    if (out_stage != nullptr) *out_stage = journey->rep.stage();
    if (out_entered_at != nullptr) *out_entered_at = journey->rep.entered_at();
    return absl::OkStatus();
  });
}

sc_status sc_journey_fire(int32_t* out_outcome, sc_journey_t* journey,
                          uint32_t event, int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, journey, [&]() -> absl::StatusOr<StepResult> {
    const Machine& m = journey->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("event", event, m.num_events(), m));
    return journey->rep.Fire(static_cast<EventId>(event), time);
  }, errmsg);
}

sc_status sc_journey_move_to(int32_t* out_outcome, sc_journey_t* journey,
                             uint32_t stage, int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, journey, [&]() -> absl::StatusOr<StepResult> {
    const Machine& m = journey->rep.machine();
    SC_RETURN_IF_ERROR(CheckId("stage", stage, m.num_stages(), m));
    return journey->rep.MoveTo(static_cast<StageId>(stage), time);
  }, errmsg);
}

sc_status sc_journey_move_to_by_name(int32_t* out_outcome, sc_journey_t* journey,
                                     const char* stage, size_t stage_len,
                                     int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, journey, [&]() -> absl::StatusOr<StepResult> {
    SC_RETURN_IF_ERROR(CheckString("stage", stage, stage_len));
    return journey->rep.MoveTo(View(stage, stage_len), time);
  }, errmsg);
}

sc_status sc_journey_reopen(int32_t* out_outcome, sc_journey_t* journey,
                            int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, journey, [&]() -> absl::StatusOr<StepResult> {
    return journey->rep.Reopen(time);
  }, errmsg);
}

sc_status sc_journey_lifecycle(int64_t* out_last_activity,
                               uint32_t* out_closed_from, uint32_t* out_cycle,
                               const sc_journey_t* journey, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(journey);
    const Journey& j = journey->rep;
    if (out_last_activity != nullptr) *out_last_activity = j.last_activity();
    if (out_closed_from != nullptr) {
      *out_closed_from =
          j.closed_from() == salescycle::kNoStage ? SC_NONE : j.closed_from();
    }
    if (out_cycle != nullptr) *out_cycle = j.cycle();
    return absl::OkStatus();
  });
}

sc_status sc_journey_loss_reason(char** out_data, size_t* out_len,
                                 const sc_journey_t* journey, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(journey);
    return Give(out_data, out_len, journey->rep.loss_reason());
  });
}

sc_status sc_journey_fire_by_name(int32_t* out_outcome, sc_journey_t* journey,
                                  const char* event, size_t event_len,
                                  int64_t time, char** errmsg) {
  return Fire(__func__, out_outcome, journey, [&]() -> absl::StatusOr<StepResult> {
    SC_RETURN_IF_ERROR(CheckString("event", event, event_len));
    return journey->rep.Fire(View(event, event_len), time);
  }, errmsg);
}

sc_status sc_journey_advance_to(uint64_t* out_fired, sc_journey_t* journey,
                                int64_t now, char** errmsg) {
  return AdvanceTo(__func__, out_fired, journey, now, errmsg);
}

sc_status sc_journey_set_int64(sc_journey_t* journey, uint32_t attribute,
                               int64_t value, char** errmsg) {
  return SetValue(__func__, journey, JourneyDeal{journey}, attribute,
                  AttributeType::kInt64, Int64Value(value), errmsg);
}
sc_status sc_journey_set_double(sc_journey_t* journey, uint32_t attribute,
                                double value, char** errmsg) {
  return SetValue(__func__, journey, JourneyDeal{journey}, attribute,
                  AttributeType::kDouble, DoubleValue(value), errmsg);
}
sc_status sc_journey_set_bool(sc_journey_t* journey, uint32_t attribute,
                              uint8_t value, char** errmsg) {
  return SetValue(__func__, journey, JourneyDeal{journey}, attribute,
                  AttributeType::kBool, BoolValue(value), errmsg);
}
sc_status sc_journey_set_string(sc_journey_t* journey, uint32_t attribute,
                                const char* value, size_t value_len,
                                char** errmsg) {
  return SetValue(__func__, journey, JourneyDeal{journey}, attribute,
                  AttributeType::kString,
                  StringValue(value, value_len), errmsg);
}
sc_status sc_journey_is_set(uint8_t* out, const sc_journey_t* journey,
                            uint32_t attribute, char** errmsg) {
  auto* j = const_cast<sc_journey_t*>(journey);  // read only
  return IsSetValue(__func__, j, JourneyDeal{j}, attribute, out, errmsg);
}
sc_status sc_journey_get_int64(int64_t* out, const sc_journey_t* journey,
                               uint32_t attribute, char** errmsg) {
  auto* j = const_cast<sc_journey_t*>(journey);  // read only
  return GetValue(__func__, j, JourneyDeal{j}, attribute,
                  AttributeType::kInt64, out, StoreInt64(out), errmsg);
}
sc_status sc_journey_get_double(double* out, const sc_journey_t* journey,
                                uint32_t attribute, char** errmsg) {
  auto* j = const_cast<sc_journey_t*>(journey);  // read only
  return GetValue(__func__, j, JourneyDeal{j}, attribute,
                  AttributeType::kDouble, out, StoreDouble(out), errmsg);
}
sc_status sc_journey_get_bool(uint8_t* out, const sc_journey_t* journey,
                              uint32_t attribute, char** errmsg) {
  auto* j = const_cast<sc_journey_t*>(journey);  // read only
  return GetValue(__func__, j, JourneyDeal{j}, attribute,
                  AttributeType::kBool, out, StoreBool(out), errmsg);
}
sc_status sc_journey_get_string(char** out_data, size_t* out_len,
                                const sc_journey_t* journey,
                                uint32_t attribute, char** errmsg) {
  auto* j = const_cast<sc_journey_t*>(journey);  // read only
  return GetValue(__func__, j, JourneyDeal{j}, attribute,
                  AttributeType::kString,
                  out_len == nullptr ? nullptr : out_data,
                  StoreString(out_data, out_len), errmsg);
}

sc_status sc_journey_add_observer(uint64_t* out_token, sc_journey_t* journey,
                                  sc_observer_fn on_transition,
                                  sc_observer_fn on_rejection, void* user_data,
                                  char** errmsg) {
  return AddObserver(__func__, out_token,
                     journey != nullptr ? &journey->rep : nullptr,
                     journey != nullptr ? &journey->observers : nullptr,
                     on_transition, on_rejection, user_data, errmsg);
}

sc_status sc_journey_remove_observer(sc_journey_t* journey, uint64_t token,
                                     char** errmsg) {
  return RemoveObserver(__func__, journey != nullptr ? &journey->rep : nullptr,
                        journey != nullptr ? &journey->observers : nullptr,
                        token, errmsg);
}

sc_status sc_journey_save(uint8_t** out_data, size_t* out_len,
                          const sc_journey_t* journey, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_C_REQUIRE(journey);
    return Give(out_data, out_len, salescycle::SnapshotJourney(journey->rep));
  });
}

sc_status sc_journey_load(sc_journey_t** out, const sc_machine_t* machine,
                          const uint8_t* data, size_t len, char** errmsg) {
  return sc_journey_load_with_limits(out, machine, data, len, nullptr, errmsg);
}

sc_status sc_journey_load_with_limits(sc_journey_t** out,
                                      const sc_machine_t* machine,
                                      const uint8_t* data, size_t len,
                                      const sc_limits_t* limits,
                                      char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_RETURN_IF_ERROR(CheckBuffer("data", data, len));
    SC_ASSIGN_OR_RETURN(
        Journey journey,
        salescycle::RestoreJourney(
            View(reinterpret_cast<const char*>(data), len), machine->rep,
            salescycle::RestoreOptions{{}, LimitsOrDefaults(limits)}));
    *out = new sc_journey_t{std::move(journey), Observers()};
    return absl::OkStatus();
  });
}


// ---- durable pipelines

struct sc_durable_options_t {
  salescycle::DurableOptions rep;
};

struct sc_durable_t {
  std::shared_ptr<const Machine> machine;
  std::unique_ptr<salescycle::DurablePipeline> rep;
};

sc_status sc_durable_options_create(sc_durable_options_t** out, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    *out = new sc_durable_options_t();
    return absl::OkStatus();
  });
}

void sc_durable_options_destroy(sc_durable_options_t* options) { delete options; }

sc_status sc_durable_options_set_sync(sc_durable_options_t* options, int32_t policy,
                                      int32_t interval_ms, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    if (policy < SC_SYNC_EVERY_WRITE || policy > SC_SYNC_NONE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy ", policy, " is none of SC_SYNC_EVERY_WRITE, SC_SYNC_INTERVAL, SC_SYNC_NONE"));
    }
    if (policy == SC_SYNC_INTERVAL && (interval_ms < 1 || interval_ms > 60000)) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval_ms is ", interval_ms, ": 1 to 60000 with SC_SYNC_INTERVAL"));
    }
    options->rep.sync = static_cast<salescycle::SyncPolicy>(policy);
    options->rep.sync_interval_ms = policy == SC_SYNC_INTERVAL ? interval_ms : 1;
    return absl::OkStatus();
  });
}

sc_status sc_durable_options_set_checkpoint_after_bytes(sc_durable_options_t* options,
                                                        uint64_t bytes, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    options->rep.checkpoint_after_bytes = bytes;
    return absl::OkStatus();
  });
}

sc_status sc_durable_options_set_salvage(sc_durable_options_t* options, uint8_t salvage,
                                         char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    options->rep.salvage_damaged_journal = salvage != 0;
    return absl::OkStatus();
  });
}

sc_status sc_durable_options_set_pipeline(sc_durable_options_t* options,
                                          const sc_options_t* pipeline, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(options);
    SC_C_REQUIRE(pipeline);
    options->rep.pipeline = pipeline->rep;
    return absl::OkStatus();
  });
}

sc_status sc_durable_open(sc_durable_t** out, const sc_machine_t* machine, const char* dir,
                          size_t dir_len, const sc_durable_options_t* options,
                          char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(NamesAMachine(machine));
    SC_RETURN_IF_ERROR(CheckString("dir", dir, dir_len));
    const std::string path(dir, dir_len);
    if (path.empty() || path.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("dir is empty or holds a NUL byte");
    }
    // Recovery replays the journal through the machine's named guards,
    // which need the step scope a live change has.
    Observers none;
    Stepping stepping(*machine->rep, &none);
    SC_ASSIGN_OR_RETURN(auto durable,
                        salescycle::DurablePipeline::Open(
                            machine->rep, path,
                            options != nullptr ? options->rep : salescycle::DurableOptions()));
    // A guard that failed while the journal was replayed may have decided
    // otherwise than when the change was made: the state is not to be
    // trusted, so the handle is not given out.
    SC_RETURN_IF_ERROR(stepping.Finish());
    *out = new sc_durable_t{machine->rep, std::move(durable)};
    return absl::OkStatus();
  });
}

void sc_durable_destroy(sc_durable_t* durable) { delete durable; }

namespace {

using salescycle::DurablePipeline;

absl::Status NamesADurable(const sc_durable_t* durable) {
  if (durable == nullptr || durable->rep == nullptr) {
    return absl::InvalidArgumentError("durable is NULL");
  }
  return absl::OkStatus();
}

// A change: `change(durable pipeline, machine)` once the handle is checked,
// in a step scope, so that named guards see their machine and a failed one
// is SC_ABORTED. The scope is the calling thread's: in a group commit the
// leader's thread applies the changes queued behind it, so a guard that
// fails there is reported to the leader's call (durable.h's threads).
template <typename ChangeFn>
sc_status DurableChange(const char* fn, sc_durable_t* durable, char** errmsg,
                        ChangeFn&& change) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesADurable(durable));
    Observers none;
    Stepping stepping(*durable->machine, &none);
    SC_RETURN_IF_ERROR(change(*durable->rep, *durable->machine));
    return stepping.Finish();
  });
}

// A step: the outcome written as sc_pipeline_fire writes it.
template <typename StepFn>
sc_status DurableStep(const char* fn, int32_t* out_outcome, sc_durable_t* durable,
                      char** errmsg, StepFn&& step) {
  return DurableChange(fn, durable, errmsg,
                       [&](DurablePipeline& d, const Machine& m) -> absl::Status {
                         SC_C_REQUIRE(out_outcome);
                         SC_ASSIGN_OR_RETURN(const StepResult result, step(d, m));
                         *out_outcome = static_cast<int32_t>(result.outcome);
                         return absl::OkStatus();
                       });
}

// An add: the entry stage checked as sc_pipeline_add_in_stage checks it.
template <typename AddFn>
sc_status DurableAdd(const char* fn, uint32_t* out, sc_durable_t* durable, uint32_t stage,
                     char** errmsg, AddFn&& add) {
  return DurableChange(fn, durable, errmsg,
                       [&](DurablePipeline& d, const Machine& m) -> absl::Status {
                         SC_C_REQUIRE(out);
                         SC_RETURN_IF_ERROR(CheckEntryStageId(stage, m));
                         SC_ASSIGN_OR_RETURN(*out, add(d, EntryStage(stage)));
                         return absl::OkStatus();
                       });
}

template <typename ValueFn>
sc_status DurableSet(const char* fn, sc_durable_t* durable, uint32_t deal, uint32_t attribute,
                     char** errmsg, ValueFn&& value) {
  return DurableChange(fn, durable, errmsg,
                       [&](DurablePipeline& d, const Machine& m) -> absl::Status {
                         SC_RETURN_IF_ERROR(CheckId("attribute", attribute,
                                                    m.num_attributes(), m));
                         SC_ASSIGN_OR_RETURN(AttributeValue v, value());
                         return d.Set(deal, static_cast<AttributeId>(attribute), std::move(v));
                       });
}

template <typename Record, typename ApplyFn>
sc_status DurableBatch(const char* fn, uint64_t* out_accepted, uint64_t* out_rejected,
                       sc_durable_t* durable, const Record* records, size_t count,
                       char** errmsg, ApplyFn&& apply) {
  return DurableChange(fn, durable, errmsg,
                       [&](DurablePipeline& d, const Machine&) -> absl::Status {
                         SC_RETURN_IF_ERROR(CheckRecords(records, count, sizeof(Record)));
                         SC_ASSIGN_OR_RETURN(const salescycle::BatchResult result,
                                             apply(d, count));
                         if (out_accepted != nullptr) *out_accepted = result.accepted;
                         if (out_rejected != nullptr) *out_rejected = result.rejected;
                         return absl::OkStatus();
                       });
}

}  // namespace

sc_status sc_durable_recovery(uint64_t* out_snapshot, uint64_t* out_changes,
                              uint64_t* out_bytes_dropped, uint8_t* out_torn_tail,
                              uint8_t* out_salvaged, const sc_durable_t* durable,
                              char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesADurable(durable));
    const salescycle::RecoveryReport& r = durable->rep->recovery();
    if (out_snapshot != nullptr) *out_snapshot = r.snapshot;
    if (out_changes != nullptr) *out_changes = r.changes_replayed;
    if (out_bytes_dropped != nullptr) *out_bytes_dropped = r.bytes_dropped;
    if (out_torn_tail != nullptr) *out_torn_tail = r.torn_tail ? 1 : 0;
    if (out_salvaged != nullptr) *out_salvaged = r.salvaged ? 1 : 0;
    return absl::OkStatus();
  });
}

sc_status sc_durable_recovery_message(const char** out_data, size_t* out_len,
                                      const sc_durable_t* durable, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_data);
    SC_C_REQUIRE(out_len);
    SC_RETURN_IF_ERROR(NamesADurable(durable));
    const std::string& message = durable->rep->recovery().stopped_at;
    *out_data = message.c_str();
    *out_len = message.size();
    return absl::OkStatus();
  });
}

sc_status sc_durable_add(uint32_t* out, sc_durable_t* durable, uint32_t stage, int64_t time,
                         char** errmsg) {
  return DurableAdd(__func__, out, durable, stage, errmsg,
                    [&](DurablePipeline& d, StageId entry) { return d.Add(time, entry); });
}

sc_status sc_durable_add_with_id(uint32_t* out, sc_durable_t* durable, uint64_t id,
                                 uint32_t stage, int64_t time, char** errmsg) {
  return DurableAdd(__func__, out, durable, stage, errmsg, [&](DurablePipeline& d, StageId entry) {
    return d.AddWithId(id, time, entry);
  });
}

sc_status sc_durable_add_with_key(uint32_t* out, sc_durable_t* durable, const char* key,
                                  size_t key_len, uint32_t stage, int64_t time,
                                  char** errmsg) {
  return DurableAdd(__func__, out, durable, stage, errmsg,
                    [&](DurablePipeline& d, StageId entry) -> absl::StatusOr<uint32_t> {
                      SC_RETURN_IF_ERROR(CheckString("key", key, key_len));
                      return d.AddWithKey(View(key, key_len), time, entry);
                    });
}

sc_status sc_durable_remove(sc_durable_t* durable, uint32_t deal, char** errmsg) {
  return DurableChange(__func__, durable, errmsg,
                       [&](DurablePipeline& d, const Machine&) { return d.Remove(deal); });
}

sc_status sc_durable_set_int64(sc_durable_t* durable, uint32_t deal, uint32_t attribute,
                               int64_t value, char** errmsg) {
  return DurableSet(__func__, durable, deal, attribute, errmsg, Int64Value(value));
}
sc_status sc_durable_set_double(sc_durable_t* durable, uint32_t deal, uint32_t attribute,
                                double value, char** errmsg) {
  return DurableSet(__func__, durable, deal, attribute, errmsg, DoubleValue(value));
}
sc_status sc_durable_set_bool(sc_durable_t* durable, uint32_t deal, uint32_t attribute,
                              uint8_t value, char** errmsg) {
  return DurableSet(__func__, durable, deal, attribute, errmsg, BoolValue(value));
}
sc_status sc_durable_set_string(sc_durable_t* durable, uint32_t deal, uint32_t attribute,
                                const char* value, size_t value_len, char** errmsg) {
  return DurableSet(__func__, durable, deal, attribute, errmsg, StringValue(value, value_len));
}

sc_status sc_durable_fire(int32_t* out_outcome, sc_durable_t* durable, uint32_t deal,
                          uint32_t event, int64_t time, char** errmsg) {
  return DurableStep(__func__, out_outcome, durable, errmsg,
                     [&](DurablePipeline& d, const Machine& m) -> absl::StatusOr<StepResult> {
                       SC_RETURN_IF_ERROR(CheckId("event", event, m.num_events(), m));
                       return d.Fire(deal, static_cast<EventId>(event), time);
                     });
}

sc_status sc_durable_move_to(int32_t* out_outcome, sc_durable_t* durable, uint32_t deal,
                             uint32_t stage, int64_t time, char** errmsg) {
  return DurableStep(__func__, out_outcome, durable, errmsg,
                     [&](DurablePipeline& d, const Machine& m) -> absl::StatusOr<StepResult> {
                       SC_RETURN_IF_ERROR(CheckId("stage", stage, m.num_stages(), m));
                       return d.MoveTo(deal, static_cast<StageId>(stage), time);
                     });
}

sc_status sc_durable_reopen(int32_t* out_outcome, sc_durable_t* durable, uint32_t deal,
                            int64_t time, char** errmsg) {
  return DurableStep(__func__, out_outcome, durable, errmsg,
                     [&](DurablePipeline& d, const Machine&) { return d.Reopen(deal, time); });
}

sc_status sc_durable_apply(uint64_t* out_accepted, uint64_t* out_rejected,
                           sc_durable_t* durable, const sc_event_record* records,
                           size_t count, uint8_t timed, char** errmsg) {
  return DurableBatch(__func__, out_accepted, out_rejected, durable, records, count, errmsg,
                      [&](DurablePipeline& d, size_t n) {
                        const auto batch = absl::MakeConstSpan(
                            reinterpret_cast<const salescycle::EventRecord*>(records), n);
                        return timed != 0 ? d.ApplyTimed(batch) : d.Apply(batch);
                      });
}

namespace {

// A batch at offsets on a durable pipeline: `apply(d, source, batch)` with
// the records as the core's type.
template <typename CoreRecord, typename Record, typename Apply>
sc_status DurableBatchAt(const char* fn, uint64_t* out_accepted, uint64_t* out_rejected,
                         uint64_t* out_skipped, sc_durable_t* durable, const char* source,
                         size_t source_len, const Record* records, size_t count, char** errmsg,
                         Apply&& apply) {
  uint64_t skipped = 0;
  const sc_status status = DurableBatch(
      fn, out_accepted, out_rejected, durable, records, count, errmsg,
      [&](DurablePipeline& d, size_t n) -> absl::StatusOr<salescycle::BatchResult> {
        SC_RETURN_IF_ERROR(CheckBuffer("source", source, source_len));
        SC_ASSIGN_OR_RETURN(
            const salescycle::BatchResult result,
            apply(d, View(source, source_len),
                  absl::MakeConstSpan(reinterpret_cast<const CoreRecord*>(records), n)));
        skipped = result.skipped;
        return result;
      });
  if (status == SC_OK && out_skipped != nullptr) *out_skipped = skipped;
  return status;
}

}  // namespace

sc_status sc_durable_apply_at(uint64_t* out_accepted, uint64_t* out_rejected,
                              uint64_t* out_skipped, sc_durable_t* durable, const char* source,
                              size_t source_len, uint64_t first_offset,
                              const sc_event_record* records, size_t count, uint8_t timed,
                              char** errmsg) {
  return DurableBatchAt<salescycle::EventRecord>(
      __func__, out_accepted, out_rejected, out_skipped, durable, source, source_len, records,
      count, errmsg, [&](DurablePipeline& d, absl::string_view name, auto batch) {
        return d.ApplyAt(name, first_offset, batch, ModeOf(timed));
      });
}

sc_status sc_durable_apply_moves_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                    uint64_t* out_skipped, sc_durable_t* durable,
                                    const char* source, size_t source_len, uint64_t first_offset,
                                    const sc_stage_record* records, size_t count, uint8_t timed,
                                    char** errmsg) {
  return DurableBatchAt<salescycle::StageRecord>(
      __func__, out_accepted, out_rejected, out_skipped, durable, source, source_len, records,
      count, errmsg, [&](DurablePipeline& d, absl::string_view name, auto batch) {
        return d.ApplyMovesAt(name, first_offset, batch, ModeOf(timed));
      });
}

sc_status sc_durable_apply_moves(uint64_t* out_accepted, uint64_t* out_rejected,
                                 sc_durable_t* durable, const sc_stage_record* records,
                                 size_t count, uint8_t timed, char** errmsg) {
  return DurableBatch(__func__, out_accepted, out_rejected, durable, records, count, errmsg,
                      [&](DurablePipeline& d, size_t n) {
                        const auto batch = absl::MakeConstSpan(
                            reinterpret_cast<const salescycle::StageRecord*>(records), n);
                        return timed != 0 ? d.ApplyMovesTimed(batch) : d.ApplyMoves(batch);
                      });
}

sc_status sc_durable_advance_to(uint64_t* out_fired, sc_durable_t* durable, int64_t now,
                                char** errmsg) {
  return DurableChange(__func__, durable, errmsg,
                       [&](DurablePipeline& d, const Machine&) -> absl::Status {
                         SC_ASSIGN_OR_RETURN(const int64_t fired, d.AdvanceTo(now));
                         if (out_fired != nullptr) *out_fired = static_cast<uint64_t>(fired);
                         return absl::OkStatus();
                       });
}

sc_status sc_durable_sync(sc_durable_t* durable, char** errmsg) {
  return DurableChange(__func__, durable, errmsg,
                       [&](DurablePipeline& d, const Machine&) { return d.Sync(); });
}

sc_status sc_durable_checkpoint(sc_durable_t* durable, char** errmsg) {
  return DurableChange(__func__, durable, errmsg,
                       [&](DurablePipeline& d, const Machine&) { return d.Checkpoint(); });
}

sc_status sc_durable_read(const sc_durable_t* durable, sc_read_fn fn, void* user_data,
                          char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_RETURN_IF_ERROR(NamesADurable(durable));
    SC_C_REQUIRE(fn);
    return durable->rep->Read([&](const Pipeline& p) {
      const sc_pipeline_t view(&p);
      fn(&view, user_data);
    });
  });
}

// ---- partitioning

static_assert(SC_MAX_KEY_GROUPS == salescycle::kMaxKeyGroups, "");

sc_status sc_key_hash(uint32_t* out, const char* key, size_t key_len, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_RETURN_IF_ERROR(CheckBuffer("key", key, key_len));
    *out = salescycle::KeyHash(View(key, key_len));
    return absl::OkStatus();
  });
}

sc_status sc_id_hash(uint32_t* out, uint64_t id, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    *out = salescycle::IdHash(id);
    return absl::OkStatus();
  });
}

namespace {

// A column of `count` byte strings in Arrow's layout (c.h, sc_key_groups):
// the offsets copied first, so that each is read once, checked and used
// alike even if another thread rewrites the caller's array meanwhile.
class KeyColumn {
 public:
  static absl::StatusOr<KeyColumn> Read(const uint8_t* data, size_t data_len,
                                        const uint64_t* offsets, size_t count) {
    SC_RETURN_IF_ERROR(CheckBuffer("data", data, data_len));
    if (count >= SIZE_MAX / sizeof(uint64_t)) {
      return absl::InvalidArgumentError(
          absl::StrCat("count ", count, " is more than any buffer holds"));
    }
    if (offsets == nullptr) return absl::InvalidArgumentError("offsets is NULL");
    KeyColumn column(reinterpret_cast<const char*>(data), offsets, count);
    for (size_t i = 0; i <= count; ++i) {
      const uint64_t previous = i == 0 ? 0 : column.bounds_[i - 1];
      if (column.bounds_[i] < previous || column.bounds_[i] > data_len) {
        return absl::InvalidArgumentError(
            absl::StrCat("offsets[", i, "] is ", column.bounds_[i],
                         "; the offsets must not decrease and stay within ", data_len,
                         " bytes of data"));
      }
    }
    return column;
  }
  size_t size() const { return bounds_.size() - 1; }
  absl::string_view operator[](size_t i) const {
    return View(bytes_ + bounds_[i], static_cast<size_t>(bounds_[i + 1] - bounds_[i]));
  }

 private:
  KeyColumn(const char* bytes, const uint64_t* offsets, size_t count)
      : bytes_(bytes), bounds_(offsets, offsets + count + 1) {}
  const char* bytes_;
  std::vector<uint64_t> bounds_;
};

}  // namespace

sc_status sc_key_groups(uint32_t* out, const uint8_t* data, size_t data_len,
                        const uint64_t* offsets, size_t count, uint32_t num_groups,
                        char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    SC_ASSIGN_OR_RETURN(const KeyColumn keys, KeyColumn::Read(data, data_len, offsets, count));
    if (out == nullptr && count != 0) return absl::InvalidArgumentError("out is NULL");
    for (size_t i = 0; i < count; ++i) out[i] = groups.GroupOfKey(keys[i]);
    return absl::OkStatus();
  });
}

sc_status sc_id_groups(uint32_t* out, const uint64_t* ids, size_t count, uint32_t num_groups,
                       char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    if (count > SIZE_MAX / sizeof(uint64_t)) {
      return absl::InvalidArgumentError(absl::StrCat("count ", count, " is more than any buffer holds"));
    }
    SC_RETURN_IF_ERROR(CheckBuffer("ids", ids, count * sizeof(uint64_t)));
    if (out == nullptr && count != 0) return absl::InvalidArgumentError("out is NULL");
    for (size_t i = 0; i < count; ++i) out[i] = groups.GroupOfId(ids[i]);
    return absl::OkStatus();
  });
}

sc_status sc_key_group_owner(uint32_t* out, uint32_t group, uint32_t num_groups,
                             uint32_t owners, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out);
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    SC_ASSIGN_OR_RETURN(*out, groups.OwnerOf(group, owners));
    return absl::OkStatus();
  });
}

sc_status sc_key_group_range(uint32_t* out_first, uint32_t* out_end, uint32_t owner,
                             uint32_t owners, uint32_t num_groups, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_first);
    SC_C_REQUIRE(out_end);
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroupRange range, groups.RangeOf(owner, owners));
    *out_first = range.first;
    *out_end = range.end;
    return absl::OkStatus();
  });
}

sc_status sc_key_group_rescale_plan(uint32_t* out, size_t capacity, size_t* out_count,
                                    uint32_t num_groups, uint32_t from, uint32_t to,
                                    char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(out_count);
    if (capacity > SIZE_MAX / 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("capacity ", capacity, " parts is more than any buffer holds"));
    }
    SC_RETURN_IF_ERROR(CheckArray("out", out, capacity * 5, sizeof(uint32_t)));
    SC_ASSIGN_OR_RETURN(const salescycle::KeyGroups groups,
                        salescycle::KeyGroups::Create(num_groups));
    SC_ASSIGN_OR_RETURN(const std::vector<salescycle::RescalePart> plan,
                        groups.RescalePlan(from, to));
    if (capacity > 0 || out != nullptr) {
      if (capacity < plan.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the plan has ", plan.size(), " parts; the buffer holds ", capacity));
      }
      for (const salescycle::RescalePart& part : plan) {
        *out++ = part.from;
        *out++ = part.to;
        *out++ = part.groups.first;
        *out++ = part.groups.end;
        *out++ = part.counted ? 1 : 0;
      }
    }
    *out_count = plan.size();
    return absl::OkStatus();
  });
}

// ---- bulk: many deals a call

sc_status sc_pipeline_find_keys(uint32_t* out, const sc_pipeline_t* pipeline,
                                const uint8_t* data, size_t data_len, const uint64_t* offsets,
                                size_t count, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_ASSIGN_OR_RETURN(const KeyColumn keys, KeyColumn::Read(data, data_len, offsets, count));
    if (out == nullptr && count != 0) return absl::InvalidArgumentError("out is NULL");
    for (size_t i = 0; i < count; ++i) {
      out[i] = pipeline->rep.IndexOfKey(keys[i]).value_or(SC_NONE);
    }
    return absl::OkStatus();
  });
}

sc_status sc_pipeline_add_keys(uint32_t* out, uint64_t* out_added, sc_pipeline_t* pipeline,
                               const uint8_t* data, size_t data_len, const uint64_t* offsets,
                               size_t count, const int64_t* times, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_ASSIGN_OR_RETURN(const KeyColumn keys, KeyColumn::Read(data, data_len, offsets, count));
    if (count > SIZE_MAX / sizeof(int64_t)) {
      return absl::InvalidArgumentError(absl::StrCat("count ", count, " is more than any buffer holds"));
    }
    SC_RETURN_IF_ERROR(CheckBuffer("times", times, count * sizeof(int64_t)));
    if (out == nullptr && count != 0) return absl::InvalidArgumentError("out is NULL");
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    uint64_t added = 0;
    for (size_t i = 0; i < count; ++i) {
      if (const std::optional<DealIndex> found = pipeline->rep.IndexOfKey(keys[i])) {
        out[i] = *found;
        continue;
      }
      absl::StatusOr<DealIndex> deal = pipeline->rep.AddWithKey(keys[i], times[i]);
      if (!deal.ok()) {
        return absl::Status(deal.status().code(),
                            absl::StrCat("key ", i, ": ", deal.status().message(), " (", added,
                                         " keys before it were added)"));
      }
      out[i] = *deal;
      ++added;
    }
    if (out_added != nullptr) *out_added = added;
    return stepping.Finish();
  });
}

namespace {

// Sets attribute `attribute` (of `type`) of deals[i] to value(i), i <
// count, after checking the attribute and every deal: nothing is set when
// one is wrong.
template <typename Value>
sc_status SetColumn(const char* fn, sc_pipeline_t* pipeline, uint32_t attribute,
                    AttributeType type, const uint32_t* deals, size_t count, char** errmsg,
                    Value&& value) {
  return Run(fn, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_ASSIGN_OR_RETURN(const AttributeId id,
                        CheckAttribute(pipeline->rep.machine(), attribute, type));
    if (count > SIZE_MAX / sizeof(uint32_t)) {
      return absl::InvalidArgumentError(absl::StrCat("count ", count, " is more than any buffer holds"));
    }
    SC_RETURN_IF_ERROR(CheckBuffer("deals", deals, count * sizeof(uint32_t)));
    // Copied, so that each deal is read once: checked and set alike.
    const std::vector<uint32_t> targets(deals, deals + count);
    for (size_t i = 0; i < count; ++i) {
      if (!pipeline->rep.Contains(targets[i])) {
        return absl::NotFoundError(absl::StrCat("deals[", i, "]: deal ", targets[i], " is not live"));
      }
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    for (size_t i = 0; i < count; ++i) {
      SC_RETURN_IF_ERROR(pipeline->rep.Set(targets[i], id, value(i)));
    }
    return stepping.Finish();
  });
}

}  // namespace

sc_status sc_pipeline_set_int64_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                       const uint32_t* deals, const int64_t* values,
                                       size_t count, char** errmsg) {
  if (values == nullptr && count != 0) {
    return Report(absl::StatusCode::kInvalidArgument, __func__, "values is NULL", errmsg);
  }
  return SetColumn(__func__, pipeline, attribute, AttributeType::kInt64, deals, count, errmsg,
                   [&](size_t i) { return AttributeValue::Int64(values[i]); });
}

sc_status sc_pipeline_set_double_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                        const uint32_t* deals, const double* values,
                                        size_t count, char** errmsg) {
  if (values == nullptr && count != 0) {
    return Report(absl::StatusCode::kInvalidArgument, __func__, "values is NULL", errmsg);
  }
  return SetColumn(__func__, pipeline, attribute, AttributeType::kDouble, deals, count, errmsg,
                   [&](size_t i) { return AttributeValue::Double(values[i]); });
}

sc_status sc_pipeline_set_bool_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                      const uint32_t* deals, const uint8_t* values, size_t count,
                                      char** errmsg) {
  if (values == nullptr && count != 0) {
    return Report(absl::StatusCode::kInvalidArgument, __func__, "values is NULL", errmsg);
  }
  return SetColumn(__func__, pipeline, attribute, AttributeType::kBool, deals, count, errmsg,
                   [&](size_t i) { return AttributeValue::Bool(values[i] != 0); });
}

sc_status sc_pipeline_set_string_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                        const uint32_t* deals, const uint8_t* data,
                                        size_t data_len, const uint64_t* offsets, size_t count,
                                        char** errmsg) {
  absl::StatusOr<KeyColumn> values = KeyColumn::Read(data, data_len, offsets, count);
  if (!values.ok()) {
    return Report(values.status().code(), __func__, values.status().message(), errmsg);
  }
  return SetColumn(__func__, pipeline, attribute, AttributeType::kString, deals, count, errmsg,
                   [&](size_t i) { return AttributeValue::String(std::string((*values)[i])); });
}

sc_status sc_pipeline_apply_columns(uint64_t* out_accepted, uint64_t* out_rejected,
                                    sc_pipeline_t* pipeline, const uint32_t* deals,
                                    const uint32_t* events, const int64_t* times, size_t count,
                                    char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    if (count > SIZE_MAX / sizeof(int64_t)) {
      return absl::InvalidArgumentError(absl::StrCat("count ", count, " is more than any buffer holds"));
    }
    SC_RETURN_IF_ERROR(CheckBuffer("deals", deals, count * sizeof(uint32_t)));
    SC_RETURN_IF_ERROR(CheckBuffer("events", events, count * sizeof(uint32_t)));
    SC_RETURN_IF_ERROR(CheckBuffer("times", times, count * sizeof(int64_t)));
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    // Gathered into records (read once each), which Apply then checks.
    std::vector<salescycle::EventRecord> records(count);
    for (size_t i = 0; i < count; ++i) records[i] = {deals[i], events[i], times[i]};
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    SC_ASSIGN_OR_RETURN(const salescycle::BatchResult result, pipeline->rep.Apply(records));
    if (out_accepted != nullptr) *out_accepted = result.accepted;
    if (out_rejected != nullptr) *out_rejected = result.rejected;
    return stepping.Finish();
  });
}

// ---- whole event files

sc_status sc_pipeline_ingest(uint64_t* out_counts, size_t capacity, char** out_first_bad,
                             sc_pipeline_t* pipeline, const char* text, size_t text_len,
                             int32_t format, uint8_t strict, char** errmsg) {
  return Run(__func__, errmsg, [&]() -> absl::Status {
    SC_C_REQUIRE(pipeline);
    SC_RETURN_IF_ERROR(CheckBuffer("text", text, text_len));
    if (out_counts == nullptr && capacity != 0) {
      return absl::InvalidArgumentError("out_counts is NULL with a capacity");
    }
    if (format < SC_ROWS_AUTO || format > SC_ROWS_JSONL) {
      return absl::InvalidArgumentError(absl::StrCat("format ", format, " is not an SC_ROWS_*"));
    }
    SC_RETURN_IF_ERROR(NotFromItsCallback(pipeline->observers));
    const absl::string_view rows = View(text, text_len);
    using salescycle::cli::EventReader;
    const bool jsonl =
        format == SC_ROWS_JSONL ||
        (format == SC_ROWS_AUTO &&
         absl::StartsWith(absl::StripLeadingAsciiWhitespace(rows), "{"));
    absl::StatusOr<EventReader> reader = EventReader::Create(
        pipeline->rep.machine(), rows,
        jsonl ? EventReader::Format::kJsonl : EventReader::Format::kCsv);
    if (!reader.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("line 1: ", reader.status().message()));
    }
    Stepping stepping(pipeline->rep.machine(), &pipeline->observers);
    salescycle::cli::ReplayStats stats;
    std::string first_bad;
    const absl::Status applied = salescycle::cli::ApplyRows(
        &*reader, rows.size(), &pipeline->rep, std::nullopt, &stats,
        [&](int64_t line, absl::string_view bad) -> absl::Status {
          const std::string message = absl::StrCat(line, ": ", bad);
          if (strict != 0) return absl::InvalidArgumentError(absl::StrCat("line ", message));
          if (first_bad.empty()) first_bad = message;
          return absl::OkStatus();
        },
        [](double) {});
    SC_RETURN_IF_ERROR(applied);
    const uint64_t last_time =
        stats.rows > stats.bad_rows ? static_cast<uint64_t>(stats.clock) : 0;
    const uint64_t counts[SC_INGEST_COUNTS] = {stats.rows,     stats.bad_rows, stats.accepted,
                                               stats.rejected, stats.added,    stats.timeouts,
                                               last_time};
    for (size_t i = 0; i < capacity && i < SC_INGEST_COUNTS; ++i) out_counts[i] = counts[i];
    if (out_first_bad != nullptr) {
      *out_first_bad = nullptr;
      if (!first_bad.empty()) {
        size_t ignored = 0;
        SC_RETURN_IF_ERROR(Give(out_first_bad, &ignored, first_bad));
      }
    }
    return stepping.Finish();
  });
}
