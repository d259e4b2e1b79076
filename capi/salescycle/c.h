/** \file
 * salescycle's C API: the library's only stable ABI, for C programs and for
 * the Python (ctypes) and Go (cgo) packages under capi/.
 *
 * Conventions
 *
 * 1. Errors. Every call that can fail returns an sc_status: SC_OK (0) or one
 *    of the codes below, whose values and meanings are absl::StatusCode's.
 *    Its last parameter, `char** errmsg`, may be NULL. When it is not and
 *    the call fails, *errmsg receives a message that names what was wrong
 *    (the argument, the id, the file and offset); free it with sc_free.
 *    *errmsg must be NULL or a message from an earlier call, which is freed
 *    and replaced (so one variable can serve a loop of calls). On success
 *    *errmsg is left as it was.
 *    Why this and not a thread-local "last error" (sqlite3, libgit2): a
 *    thread-local forces a Go binding to lock its goroutine to an OS thread
 *    around every call, and can be stale or overwritten by a callback; an
 *    error string alone (leveldb) gives a wrapper nothing to branch on. The
 *    code says what kind of failure it is, the message says where.
 * 2. Outputs first. Out-parameters come first and are written only on
 *    SC_OK; a caller can pre-fill them. Inputs follow, errmsg is last.
 * 3. Ownership. Every *_create / *_load / *_from_* has a *_destroy, which
 *    accepts NULL. Memory the library returns is either "caller owns, free
 *    with sc_free" or "borrowed, valid until <handle> is destroyed", as each
 *    function says. The library never keeps a pointer the caller passed,
 *    except the user_data of callbacks, which must stay valid while the
 *    callback is registered.
 * 4. Bad arguments never crash. A NULL handle or pointer, an id out of
 *    range, a removed deal, a buffer that is too small, bad snapshot bytes:
 *    each is an error code with a message, never an abort. No C++
 *    exception crosses this boundary: an unexpected one becomes
 *    SC_INTERNAL, an allocation failure SC_RESOURCE_EXHAUSTED. (A handle
 *    used after its *_destroy is a dangling pointer, as after free(): C
 *    cannot tell it from a live one. The Python and Go packages can: they
 *    raise ClosedError / return ErrClosed.)
 * 5. Types. Fixed-width integers only; bools are uint8_t (0 or 1); bytes and
 *    strings are pointer + length (strings need no NUL terminator, and may
 *    hold NUL bytes). Deal keys and string attributes are bytes, in any
 *    encoding (Latin-1 from an old CRM export is fine): they round-trip
 *    through snapshots as given. Names in a spec (stages, events,
 *    attributes) are text and must be UTF-8. Times are int64_t seconds on
 *    a clock of the caller's choosing: the library never reads a clock. Ids are dense uint32_t:
 *    stage i is the machine's i-th stage in declaration order, and so on.
 *    SC_NONE stands for "no id" (a timeout that entered a stage has no event;
 *    a journey has no deal index).
 * 6. No structs cross by value, and options are opaque handles with setters,
 *    so that the ABI can grow without breaking. The one public struct is
 *    sc_event_record, the fixed 16-byte layout of batch records, whose
 *    offsets are documented below and checked by the tests of every
 *    language.
 * 7. Threads. A machine is immutable and may be used from any number of
 *    threads at once. A pipeline or journey needs external synchronization:
 *    one writer at a time. Callbacks run on the thread that made the call.
 *    A callback may read the handle whose call runs it; a call that would
 *    change it (add, remove, set, fire, apply, advance, add or remove an
 *    observer) returns SC_FAILED_PRECONDITION, and destroying it there is
 *    undefined, as any use after destroy.
 * 8. Versions. SC_VERSION_NUMBER (from salescycle/version.h) is the header's
 *    version, sc_version_number() the library's: a wrapper checks that the
 *    major versions agree when it loads the library.
 */
#ifndef SALESCYCLE_C_H_
#define SALESCYCLE_C_H_

#include <stddef.h>
#include <stdint.h>

#include "salescycle/export.h"
#include "salescycle/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: absl::StatusCode's values */
/** What a call did: SC_OK or an error code (convention 1). */
typedef int32_t sc_status;
/** @name Status codes
 * absl::StatusCode's values and meanings; each call says which it returns.
 * @{ */
#define SC_OK 0 /**< success */
#define SC_CANCELLED 1 /**< not returned by this version */
#define SC_UNKNOWN 2 /**< not returned by this version */
#define SC_INVALID_ARGUMENT 3 /**< an argument is wrong whatever the state (a bad spec, an id out of range) */
#define SC_DEADLINE_EXCEEDED 4 /**< not returned by this version */
#define SC_NOT_FOUND 5 /**< a name, deal, id, key or file does not exist */
#define SC_ALREADY_EXISTS 6 /**< an id, key or name is taken */
#define SC_PERMISSION_DENIED 7 /**< a file or directory the process may not read or write */
#define SC_RESOURCE_EXHAUSTED 8 /**< out of memory, slots, or past a limit */
#define SC_FAILED_PRECONDITION 9 /**< not in this state: a change from inside a callback, data of another machine, a directory open elsewhere */
#define SC_ABORTED 10 /**< a callback or named guard failed */
#define SC_OUT_OF_RANGE 11 /**< not returned by this version */
#define SC_UNIMPLEMENTED 12 /**< not returned by this version */
#define SC_INTERNAL 13 /**< a bug in the library: please report it */
#define SC_UNAVAILABLE 14 /**< an I/O error other than a missing or forbidden file (errno's text in the message) */
#define SC_DATA_LOSS 15 /**< damaged data: a snapshot, journal or funnel state */
#define SC_UNAUTHENTICATED 16 /**< not returned by this version */
/** @} */

/** @name Outcomes
 * What a step did (Outcome in salescycle/step.h).
 * @{ */
#define SC_OUTCOME_MOVED 0 /**< the deal moved */
#define SC_OUTCOME_NO_TRANSITION 1 /**< the stage has no rule for the event */
#define SC_OUTCOME_GUARD_FAILED 2 /**< the rule's guard did not hold */
#define SC_OUTCOME_MISSING_ATTRIBUTE 3 /**< the target stage needs an unset attribute */
#define SC_OUTCOME_NO_DEAL 4 /**< a batch record for a removed deal */
/** Accepted without a move: an activity, or a move by stage to the deal's own
 * stage (an update). */
#define SC_OUTCOME_ACTIVITY 5
#define SC_OUTCOME_NOT_REOPENABLE 6 /**< a reopen of a deal that cannot be */
/** @} */

/** @name Stage kinds
 * StageKind in salescycle/machine.h.
 * @{ */
#define SC_STAGE_OPEN 0 /**< a deal in it is still being worked */
#define SC_STAGE_WON 1  /**< a closed-won stage */
#define SC_STAGE_LOST 2 /**< a closed-lost stage */
/** @} */

/** @name Attribute types
 * AttributeType in salescycle/attribute.h.
 * @{ */
#define SC_ATTRIBUTE_INT64 0  /**< int64_t */
#define SC_ATTRIBUTE_DOUBLE 1 /**< double */
#define SC_ATTRIBUTE_STRING 2 /**< bytes (pointer + length) */
#define SC_ATTRIBUTE_BOOL 3   /**< uint8_t, 0 or 1 */
/** @} */

/** "No id": no stage, event, attribute or deal (convention 5). */
#define SC_NONE UINT32_C(0xFFFFFFFF)

/* ---- handles */
/** A compiled machine (salescycle/machine.h); immutable, any thread. */
typedef struct sc_machine_t sc_machine_t;
/** How a spec compiles: named guards, limits, source name. */
typedef struct sc_compile_options_t sc_compile_options_t;
/** Bounds on an untrusted spec or snapshot (salescycle/limits.h). */
typedef struct sc_limits_t sc_limits_t;
/** What a pipeline or journey keeps (salescycle/options.h). */
typedef struct sc_options_t sc_options_t;
/** Many deals of one machine (salescycle/pipeline.h). */
typedef struct sc_pipeline_t sc_pipeline_t;
/** One deal as a value (salescycle/journey.h). */
typedef struct sc_journey_t sc_journey_t;
/** A funnel as a mergeable value (salescycle/funnel_state.h). */
typedef struct sc_funnel_state_t sc_funnel_state_t;
/** A pipeline kept in a directory, every change journaled
 * (salescycle/durable.h). */
typedef struct sc_durable_t sc_durable_t;
/** How a durable pipeline opens and syncs. */
typedef struct sc_durable_options_t sc_durable_options_t;
/** A deal's attributes as a named guard sees them, during the guard call. */
typedef struct sc_deal_view_t sc_deal_view_t;

/* ---- the library */

/** The library's version, as SC_VERSION_NUMBER: 1.2.3 is 10203. */
SC_EXPORT uint32_t sc_version_number(void);
/** "1.2.3". Static storage. */
SC_EXPORT const char* sc_version_string(void);
/** "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_STATUS" for other values. Static
 * storage. */
SC_EXPORT const char* sc_status_name(sc_status status);
/** Frees what the library returned as "caller owns". NULL is fine. */
SC_EXPORT void sc_free(void* ptr);

/* ---- limits: what an untrusted spec or snapshot may ask for */
/** @name Limits
 * salescycle/limits.h says what each bounds and why. Input past a limit is
 * refused with SC_INVALID_ARGUMENT naming the limit, before anything sized
 * by it is allocated. A value past a hard cap acts as the cap.
 * @{ */
#define SC_LIMIT_SPEC_BYTES 0       /**< default 4 MiB */
#define SC_LIMIT_STAGES 1           /**< 1024; hard cap 65534 */
#define SC_LIMIT_EVENTS 2           /**< 1024; hard cap 65534 */
#define SC_LIMIT_ATTRIBUTES 3       /**< 1024; hard cap 65534 */
#define SC_LIMIT_TRANSITIONS 4      /**< 2^20, once per stage each leaves */
#define SC_LIMIT_GUARD_DEPTH 5      /**< 32; hard cap 40 */
#define SC_LIMIT_STRING_LENGTH 6    /**< 64 KiB */
#define SC_LIMIT_HISTORY_LENGTH 7   /**< 1024; hard cap 65536 */
#define SC_LIMIT_SNAPSHOT_DEALS 8   /**< 2^28; hard cap 2^32 - 2 */
#define SC_LIMIT_HISTORY_ENTRIES 9  /**< 2^26: slots x history length */
/** @} */

/** The defaults. NULL only when memory is exhausted. */
SC_EXPORT sc_limits_t* sc_limits_create(void);
/** Frees `limits`; NULL is a no-op. */
SC_EXPORT void sc_limits_destroy(sc_limits_t* limits);
/** Sets (get: reads) one SC_LIMIT_*. Errors: SC_INVALID_ARGUMENT for NULL
 * or a `limit` that is not one of SC_LIMIT_*. @{ */
SC_EXPORT sc_status sc_limits_set(sc_limits_t* limits, int32_t limit,
                                  uint64_t value, char** errmsg);
SC_EXPORT sc_status sc_limits_get(uint64_t* out, const sc_limits_t* limits,
                                  int32_t limit, char** errmsg);
/** @} */

/* ---- compile options: named guards, limits and the name errors use */

/** NULL only when memory is exhausted. */
SC_EXPORT sc_compile_options_t* sc_compile_options_create(void);
/** Frees `options`; NULL is a no-op. Machines compiled with them keep what
 * they need. */
SC_EXPORT void sc_compile_options_destroy(sc_compile_options_t* options);
/** Named in error messages instead of "<text>", "<json>" or the path. */
SC_EXPORT sc_status sc_compile_options_set_source_name(
    sc_compile_options_t* options, const char* name, size_t name_len,
    char** errmsg);

/** Copies `limits` (default: sc_limits_create's). */
SC_EXPORT sc_status sc_compile_options_set_limits(sc_compile_options_t* options,
                                                  const sc_limits_t* limits,
                                                  char** errmsg);

/** A named guard: a rule a declarative guard cannot say. Set *out_holds to 1
 * when the guard holds and return 0. A non-zero return is a failure: the
 * guard counts as not holding, and the fire / apply / advance call that
 * asked returns SC_ABORTED naming the guard and the code. It may be called
 * from several threads at once (a machine is shared); it may read, not
 * change, the pipeline or journey being stepped (convention 7). */
typedef int32_t (*sc_guard_fn)(void* user_data, const sc_deal_view_t* deal,
                               uint8_t* out_holds);
/** Registers `fn` under `name` (a spec refers to it as `guard { named: "..."
 * }`). `user_data` must stay valid while any machine compiled with these
 * options lives. Errors: SC_INVALID_ARGUMENT for NULL or an empty name,
 * SC_ALREADY_EXISTS for a name registered twice. */
SC_EXPORT sc_status sc_compile_options_add_named_guard(
    sc_compile_options_t* options, const char* name, size_t name_len,
    sc_guard_fn fn, void* user_data, char** errmsg);

/** Reads of the deal a guard is deciding on. An attribute that was never set
 * reads as its declared default. Errors: SC_INVALID_ARGUMENT for an id out
 * of range or an attribute of another type. A string is borrowed for the
 * duration of the guard call. @{ */
SC_EXPORT sc_status sc_deal_view_is_set(uint8_t* out, const sc_deal_view_t* deal,
                                        uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_deal_view_get_int64(int64_t* out,
                                           const sc_deal_view_t* deal,
                                           uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_deal_view_get_double(double* out,
                                            const sc_deal_view_t* deal,
                                            uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_deal_view_get_bool(uint8_t* out,
                                          const sc_deal_view_t* deal,
                                          uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_deal_view_get_string(const char** out_data,
                                            size_t* out_len,
                                            const sc_deal_view_t* deal,
                                            uint32_t attribute, char** errmsg);
/** @} */

/* ---- machines: compiled, immutable, shared by threads */

/** Parse and compile a MachineSpec (proto/salescycle/v1/machine.proto) in
 * protobuf text format or JSON; a file ending in ".json" is read as JSON.
 * `options` may be NULL. Errors: SC_INVALID_ARGUMENT naming the source and
 * the offending element; SC_NOT_FOUND etc. for a file that cannot be read.
 * *out: free with sc_machine_destroy. @{ */
SC_EXPORT sc_status sc_machine_from_text(sc_machine_t** out, const char* text,
                                         size_t text_len,
                                         const sc_compile_options_t* options,
                                         char** errmsg);
SC_EXPORT sc_status sc_machine_from_json(sc_machine_t** out, const char* json,
                                         size_t json_len,
                                         const sc_compile_options_t* options,
                                         char** errmsg);
SC_EXPORT sc_status sc_machine_from_file(sc_machine_t** out, const char* path,
                                         const sc_compile_options_t* options,
                                         char** errmsg);
/** @} */
/** Pipelines and journeys keep their machine alive: a machine handle may be
 * destroyed while they are in use. */
SC_EXPORT void sc_machine_destroy(sc_machine_t* machine);

/** Borrowed, NUL-terminated, valid until the machine is destroyed. */
SC_EXPORT sc_status sc_machine_name(const char** out,
                                    const sc_machine_t* machine,
                                    char** errmsg);
/** The spec's version. */
SC_EXPORT sc_status sc_machine_version(uint32_t* out,
                                       const sc_machine_t* machine,
                                       char** errmsg);
/** Machine::fingerprint(): equal for machines that behave the same. */
SC_EXPORT sc_status sc_machine_fingerprint(uint64_t* out,
                                           const sc_machine_t* machine,
                                           char** errmsg);
/** The whole machine as compiled, in JSON (Machine::SpecJson): every stage,
 * event, attribute, transition and timeout with all their fields, in id
 * order, as salescycle.v1.MachineSpec's JSON mapping (64-bit integers are
 * strings). *out_data: caller owns (NUL-terminated; free with sc_free). */
SC_EXPORT sc_status sc_machine_spec_json(char** out_data, size_t* out_len,
                                         const sc_machine_t* machine,
                                         char** errmsg);
/** How many stages, events, attributes: ids run from 0 below these. @{ */
SC_EXPORT sc_status sc_machine_num_stages(uint32_t* out,
                                          const sc_machine_t* machine,
                                          char** errmsg);
SC_EXPORT sc_status sc_machine_num_events(uint32_t* out,
                                          const sc_machine_t* machine,
                                          char** errmsg);
SC_EXPORT sc_status sc_machine_num_attributes(uint32_t* out,
                                              const sc_machine_t* machine,
                                              char** errmsg);
/** @} */
/** The stage a deal is added in when none is named. */
SC_EXPORT sc_status sc_machine_initial_stage(uint32_t* out,
                                             const sc_machine_t* machine,
                                             char** errmsg);
/** Ids by name. Errors: SC_NOT_FOUND naming the machine and the name. @{ */
SC_EXPORT sc_status sc_machine_find_stage(uint32_t* out,
                                          const sc_machine_t* machine,
                                          const char* name, size_t name_len,
                                          char** errmsg);
SC_EXPORT sc_status sc_machine_find_event(uint32_t* out,
                                          const sc_machine_t* machine,
                                          const char* name, size_t name_len,
                                          char** errmsg);
SC_EXPORT sc_status sc_machine_find_attribute(uint32_t* out,
                                              const sc_machine_t* machine,
                                              const char* name,
                                              size_t name_len, char** errmsg);
/** @} */
/** Names by id: borrowed, NUL-terminated, valid until the machine is
 * destroyed. Errors: SC_INVALID_ARGUMENT for an id out of range. @{ */
SC_EXPORT sc_status sc_machine_stage_name(const char** out,
                                          const sc_machine_t* machine,
                                          uint32_t stage, char** errmsg);
SC_EXPORT sc_status sc_machine_event_name(const char** out,
                                          const sc_machine_t* machine,
                                          uint32_t event, char** errmsg);
SC_EXPORT sc_status sc_machine_attribute_name(const char** out,
                                              const sc_machine_t* machine,
                                              uint32_t attribute,
                                              char** errmsg);
/** @} */
/** SC_STAGE_OPEN, SC_STAGE_WON or SC_STAGE_LOST. */
SC_EXPORT sc_status sc_machine_stage_kind(int32_t* out,
                                          const sc_machine_t* machine,
                                          uint32_t stage, char** errmsg);
/** SC_ATTRIBUTE_INT64, _DOUBLE, _STRING or _BOOL. */
SC_EXPORT sc_status sc_machine_attribute_type(int32_t* out,
                                              const sc_machine_t* machine,
                                              uint32_t attribute,
                                              char** errmsg);

/* ---- options of pipelines and journeys */

/** Defaults: history_limit 0 (no history), expected_deals 0. NULL only when
 * memory is exhausted. */
SC_EXPORT sc_options_t* sc_options_create(void);
/** Frees `options`; NULL is a no-op. */
SC_EXPORT void sc_options_destroy(sc_options_t* options);
/** Steps remembered per deal, at most 65536. */
SC_EXPORT sc_status sc_options_set_history_limit(sc_options_t* options,
                                                 uint32_t limit, char** errmsg);
/** Deals a pipeline reserves room for up front (journeys ignore it). */
SC_EXPORT sc_status sc_options_set_expected_deals(sc_options_t* options,
                                                  uint64_t deals,
                                                  char** errmsg);

/* ---- observers */

/** Called after every step of a pipeline or journey it is registered with:
 * on_transition for accepted steps (moves, and activities: outcome
 * SC_OUTCOME_ACTIVITY, `to` equals `from`), on_rejection for the others.
 * `deal` is the deal's index (SC_NONE for a journey), `event` SC_NONE for a
 * timeout that entered a stage, a reopen, or a move by stage whose
 * transition has no event; `to` equals `from` for a rejection. Return
 * 0. A non-zero return is a failure: the step stands (and so do the rest of
 * a batch, which was checked before it was applied), no further callback of
 * that handle is made during the call, and the call returns SC_ABORTED
 * naming the code. It may read, not change, the handle it observes
 * (convention 7). */
typedef int32_t (*sc_observer_fn)(void* user_data, uint32_t deal,
                                  uint32_t from, uint32_t to, uint32_t event,
                                  int64_t time, int32_t outcome);

/** The changes of a pipeline that are not steps, for a host that keeps its
 * own log or index of it (observer.h's OnAdd, OnRemove, OnSet):
 * SC_CHANGE_ADD: `deal` was added in stage `id` at `time` (its id or key is
 * the pipeline's by then); SC_CHANGE_REMOVE: `deal` was removed (`id`
 * SC_NONE, `time` 0); SC_CHANGE_SET: attribute `id` of `deal` was set (read
 * the value with sc_pipeline_get_*; `time` 0). What fails is not a change
 * and is not seen. The return and the rules are sc_observer_fn's. */
typedef int32_t (*sc_change_fn)(void* user_data, int32_t kind, uint32_t deal,
                                uint32_t id, int64_t time);
/** @name Change kinds
 * sc_change_fn's `kind`.
 * @{ */
#define SC_CHANGE_ADD 0    /**< a deal was added */
#define SC_CHANGE_REMOVE 1 /**< a deal was removed */
#define SC_CHANGE_SET 2    /**< an attribute of a deal was set */
/** @} */

/* ---- batch records: the one fixed layout of the API
 *
 *   offset 0  uint32_t deal   a deal index of the pipeline
 *   offset 4  uint32_t event  an event id
 *   offset 8  int64_t  time   seconds
 *   size 16, alignment 8, no padding, native byte order
 */
/** One event for one deal, as the batch calls take them: 16 bytes, no
 * padding, native byte order (EventRecord in salescycle/pipeline.h). */
typedef struct sc_event_record {
  uint32_t deal;  /**< a deal index of the pipeline (offset 0) */
  uint32_t event; /**< an event id (offset 4) */
  int64_t time;   /**< seconds (offset 8) */
} sc_event_record;

/** A move by stage, the same layout with a stage id where the event id is. */
typedef struct sc_stage_record {
  uint32_t deal;  /**< a deal index of the pipeline */
  uint32_t stage; /**< the stage the deal was in from `time` */
  int64_t time;   /**< seconds */
} sc_stage_record;

/** @name Cohorts
 * How sc_options_set_analytics groups deals into cohorts.
 * @{ */
#define SC_COHORT_NONE 0    /**< no cohorts */
#define SC_COHORT_WEEK 1    /**< the UTC ISO 8601 week a deal was added in */
#define SC_COHORT_MONTH 2   /**< the UTC month */
#define SC_COHORT_QUARTER 3 /**< the UTC calendar quarter */
/** @} */
/** Funnel analytics (salescycle/funnel.h): keep the counters online as events
 * are applied. `cohort` is SC_COHORT_NONE, _WEEK, _MONTH or _QUARTER (the
 * UTC week, month or calendar quarter a deal was added in). Pipelines
 * only. */
SC_EXPORT sc_status sc_options_set_analytics(sc_options_t* options,
                                             uint8_t enabled, int32_t cohort,
                                             char** errmsg);

/* ---- pipelines: many deals of one machine */

/** `options` may be NULL. */
SC_EXPORT sc_status sc_pipeline_create(sc_pipeline_t** out,
                                       const sc_machine_t* machine,
                                       const sc_options_t* options,
                                       char** errmsg);
/** Frees `pipeline`; NULL is a no-op. */
SC_EXPORT void sc_pipeline_destroy(sc_pipeline_t* pipeline);

/** A new deal in the initial stage, entered at `time`; *out is its index.
 * Errors: SC_ALREADY_EXISTS for an id or key in use, SC_RESOURCE_EXHAUSTED
 * past 2^32 - 1 deals. The _in_stage forms create it in `stage`, one of the
 * machine's entry stages (SC_NONE: the initial stage); its creation is its
 * entry into that stage and no stage before it. Errors: also
 * SC_INVALID_ARGUMENT for a stage that is not an entry stage; SC_ABORTED
 * when a change observer failed (the deal is added, and *out written). @{ */
SC_EXPORT sc_status sc_pipeline_add(uint32_t* out, sc_pipeline_t* pipeline,
                                    int64_t time, char** errmsg);
SC_EXPORT sc_status sc_pipeline_add_with_id(uint32_t* out,
                                            sc_pipeline_t* pipeline,
                                            uint64_t id, int64_t time,
                                            char** errmsg);
SC_EXPORT sc_status sc_pipeline_add_with_key(uint32_t* out,
                                             sc_pipeline_t* pipeline,
                                             const char* key, size_t key_len,
                                             int64_t time, char** errmsg);
SC_EXPORT sc_status sc_pipeline_add_in_stage(uint32_t* out,
                                             sc_pipeline_t* pipeline,
                                             uint32_t stage, int64_t time,
                                             char** errmsg);
SC_EXPORT sc_status sc_pipeline_add_with_id_in_stage(uint32_t* out,
                                                     sc_pipeline_t* pipeline,
                                                     uint64_t id,
                                                     uint32_t stage,
                                                     int64_t time,
                                                     char** errmsg);
SC_EXPORT sc_status sc_pipeline_add_with_key_in_stage(
    uint32_t* out, sc_pipeline_t* pipeline, const char* key, size_t key_len,
    uint32_t stage, int64_t time, char** errmsg);
/** @} */
/** Errors: SC_NOT_FOUND for a deal that is not live. */
SC_EXPORT sc_status sc_pipeline_remove(sc_pipeline_t* pipeline, uint32_t deal,
                                       char** errmsg);
/** Errors: SC_NOT_FOUND naming the id or key. @{ */
SC_EXPORT sc_status sc_pipeline_find_by_id(uint32_t* out,
                                           const sc_pipeline_t* pipeline,
                                           uint64_t id, char** errmsg);
SC_EXPORT sc_status sc_pipeline_find_by_key(uint32_t* out,
                                            const sc_pipeline_t* pipeline,
                                            const char* key, size_t key_len,
                                            char** errmsg);
/** @} */
/** Live deals. */
SC_EXPORT sc_status sc_pipeline_size(uint64_t* out,
                                     const sc_pipeline_t* pipeline,
                                     char** errmsg);
/** The deal's stage and the time it entered it (either out may be NULL).
 * Errors: SC_NOT_FOUND for a deal that is not live. */
SC_EXPORT sc_status sc_pipeline_deal_stage(uint32_t* out_stage,
                                           int64_t* out_entered_at,
                                           const sc_pipeline_t* pipeline,
                                           uint32_t deal, char** errmsg);

/** What the deal keeps beyond its stage (salescycle/pipeline.h); any out may
 * be NULL: its last activity time (its entry time when the machine keeps
 * none), the open stage it was last closed from (SC_NONE: none), its cycle
 * (1 for the first). Errors: SC_NOT_FOUND for a deal that is not live. */
SC_EXPORT sc_status sc_pipeline_deal_lifecycle(int64_t* out_last_activity,
                                               uint32_t* out_closed_from,
                                               uint32_t* out_cycle,
                                               const sc_pipeline_t* pipeline,
                                               uint32_t deal, char** errmsg);
/** The reason recorded when the deal entered the LOST stage it is in ("" when
 * none). *out_data: caller owns (NUL-terminated; free with sc_free). */
SC_EXPORT sc_status sc_pipeline_loss_reason(char** out_data, size_t* out_len,
                                            const sc_pipeline_t* pipeline,
                                            uint32_t deal, char** errmsg);

/** Attributes. Errors: SC_NOT_FOUND for a deal that is not live,
 * SC_INVALID_ARGUMENT for an id out of range or another type. A get of an
 * unset attribute gives its declared default. @{ */
SC_EXPORT sc_status sc_pipeline_set_int64(sc_pipeline_t* pipeline,
                                          uint32_t deal, uint32_t attribute,
                                          int64_t value, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_double(sc_pipeline_t* pipeline,
                                           uint32_t deal, uint32_t attribute,
                                           double value, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_bool(sc_pipeline_t* pipeline,
                                         uint32_t deal, uint32_t attribute,
                                         uint8_t value, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_string(sc_pipeline_t* pipeline,
                                           uint32_t deal, uint32_t attribute,
                                           const char* value,
                                           size_t value_len, char** errmsg);
SC_EXPORT sc_status sc_pipeline_is_set(uint8_t* out,
                                       const sc_pipeline_t* pipeline,
                                       uint32_t deal, uint32_t attribute,
                                       char** errmsg);
SC_EXPORT sc_status sc_pipeline_get_int64(int64_t* out,
                                          const sc_pipeline_t* pipeline,
                                          uint32_t deal, uint32_t attribute,
                                          char** errmsg);
SC_EXPORT sc_status sc_pipeline_get_double(double* out,
                                           const sc_pipeline_t* pipeline,
                                           uint32_t deal, uint32_t attribute,
                                           char** errmsg);
SC_EXPORT sc_status sc_pipeline_get_bool(uint8_t* out,
                                         const sc_pipeline_t* pipeline,
                                         uint32_t deal, uint32_t attribute,
                                         char** errmsg);
/** @} */
/** *out_data: caller owns (NUL-terminated; free with sc_free). */
SC_EXPORT sc_status sc_pipeline_get_string(char** out_data, size_t* out_len,
                                           const sc_pipeline_t* pipeline,
                                           uint32_t deal, uint32_t attribute,
                                           char** errmsg);

/** Fires one event. A rejection is an outcome (*out_outcome), not an error.
 * Errors: SC_NOT_FOUND for a deal that is not live or an unknown event
 * name, SC_INVALID_ARGUMENT for an event id out of range; SC_ABORTED when a
 * callback failed (the step stands). @{ */
SC_EXPORT sc_status sc_pipeline_fire(int32_t* out_outcome,
                                     sc_pipeline_t* pipeline, uint32_t deal,
                                     uint32_t event, int64_t time,
                                     char** errmsg);
SC_EXPORT sc_status sc_pipeline_fire_by_name(int32_t* out_outcome,
                                             sc_pipeline_t* pipeline,
                                             uint32_t deal, const char* event,
                                             size_t event_len, int64_t time,
                                             char** errmsg);
/** @} */
/** Moves the deal to `stage` by stage: the first declared transition between
 * the two stages whose guard holds, then the target's required attributes.
 * Naming the deal's own stage records an activity (SC_OUTCOME_ACTIVITY), never
 * a move; with no declared transition, naming the stage a deal in a
 * reopenable closed stage was closed from reopens it. Errors: SC_NOT_FOUND
 * for a deal that is not live or an unknown stage name, SC_INVALID_ARGUMENT
 * for a stage out of range; SC_ABORTED as for sc_pipeline_fire. @{ */
SC_EXPORT sc_status sc_pipeline_move_to(int32_t* out_outcome,
                                        sc_pipeline_t* pipeline, uint32_t deal,
                                        uint32_t stage, int64_t time,
                                        char** errmsg);
SC_EXPORT sc_status sc_pipeline_move_to_by_name(int32_t* out_outcome,
                                                sc_pipeline_t* pipeline,
                                                uint32_t deal,
                                                const char* stage,
                                                size_t stage_len, int64_t time,
                                                char** errmsg);
/** @} */
/** Reopens a deal in a reopenable WON or LOST stage into the stage it was
 * closed from, in the same cycle; anything else is SC_OUTCOME_NOT_REOPENABLE.
 * Errors: as sc_pipeline_move_to. */
SC_EXPORT sc_status sc_pipeline_reopen(int32_t* out_outcome,
                                       sc_pipeline_t* pipeline, uint32_t deal,
                                       int64_t time, char** errmsg);
/** Applies `count` records in order, straight from the caller's array (no
 * copy). Another thread may write the array during the call (a Python
 * thread, the GIL released): each record is read once where it is applied
 * and checked again, so that is never a crash; a record rewritten since
 * the check is refused or applied as it then reads. All are checked first: a deal index past the pipeline's slots or an
 * event out of range fails the whole batch with SC_INVALID_ARGUMENT naming
 * the record, and nothing is applied. A record for a removed deal is
 * rejected, not an error. Either out may be NULL. */
SC_EXPORT sc_status sc_pipeline_apply(uint64_t* out_accepted,
                                      uint64_t* out_rejected,
                                      sc_pipeline_t* pipeline,
                                      const sc_event_record* records,
                                      size_t count, char** errmsg);
/** sc_pipeline_apply split across up to `threads` threads by deal, with
 * exactly its result (Pipeline::ApplyParallel). It uses fewer threads where
 * more do not pay (a small batch or pipeline, a machine with no guard or
 * required attribute), and one where the result could differ (named
 * guards, observers, history, analytics); *out_threads
 * gets the number that ran. Any out may be NULL. Errors: as
 * sc_pipeline_apply; SC_INVALID_ARGUMENT for threads outside 1..64. */
SC_EXPORT sc_status sc_pipeline_apply_parallel(uint64_t* out_accepted,
                                               uint64_t* out_rejected,
                                               uint32_t* out_threads,
                                               sc_pipeline_t* pipeline,
                                               const sc_event_record* records,
                                               size_t count, uint32_t threads,
                                               char** errmsg);
/** Moves by stage (a stage-history export: "deal D was in stage S from time
 * T"), in order, as sc_pipeline_apply applies events: all checked first (a
 * deal past the pipeline's slots or a stage out of range fails the batch,
 * nothing applied). Accepted counts moves and updates. */
SC_EXPORT sc_status sc_pipeline_apply_moves(uint64_t* out_accepted,
                                            uint64_t* out_rejected,
                                            sc_pipeline_t* pipeline,
                                            const sc_stage_record* records,
                                            size_t count, char** errmsg);
/** Applies `count` records at offsets first_offset, first_offset + 1, ...
 * of the input `source` (source_len bytes of UTF-8, 1 to 1024: a file, a
 * Kafka partition, a shard's stream), as Pipeline::ApplyAt: records at
 * offsets applied before from the same source are passed over
 * (*out_skipped), the rest applied as sc_pipeline_apply applies them
 * (`timed` 1: firing the timeouts due between records first), and the
 * source's position becomes first_offset + count. Positions are saved in
 * snapshots, so a replay after a restore applies each record exactly once.
 * Any out may be NULL. Errors: as sc_pipeline_apply; SC_INVALID_ARGUMENT
 * for a bad source name or offsets past 2^64 - 1 (nothing applied, the
 * position unchanged). @{ */
SC_EXPORT sc_status sc_pipeline_apply_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                         uint64_t* out_skipped, sc_pipeline_t* pipeline,
                                         const char* source, size_t source_len,
                                         uint64_t first_offset, const sc_event_record* records,
                                         size_t count, uint8_t timed, char** errmsg);
SC_EXPORT sc_status sc_pipeline_apply_moves_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                               uint64_t* out_skipped, sc_pipeline_t* pipeline,
                                               const char* source, size_t source_len,
                                               uint64_t first_offset,
                                               const sc_stage_record* records, size_t count,
                                               uint8_t timed, char** errmsg);
/** @} */
/** The first offset of `source` not applied yet (0 for a source never
 * applied from). */
SC_EXPORT sc_status sc_pipeline_position(uint64_t* out, const sc_pipeline_t* pipeline,
                                         const char* source, size_t source_len, char** errmsg);
/** Every source's position as a JSON object, {"source": offset, ...}, by
 * name. *out_data: caller owns (NUL-terminated; free with sc_free). */
SC_EXPORT sc_status sc_pipeline_positions_json(char** out_data, size_t* out_len,
                                               const sc_pipeline_t* pipeline, char** errmsg);
/** Fires every timeout due at or before `now`, in due order. */
SC_EXPORT sc_status sc_pipeline_advance_to(uint64_t* out_fired,
                                           sc_pipeline_t* pipeline,
                                           int64_t now, char** errmsg);
/** Live deals in one stage. Errors: SC_INVALID_ARGUMENT for a stage out of
 * range. */
SC_EXPORT sc_status sc_pipeline_stage_count(uint64_t* out,
                                            const sc_pipeline_t* pipeline,
                                            uint32_t stage, char** errmsg);
/** Bulk reads, for callers that want columns rather than a call a deal
 * (Python fills numpy arrays or array.array with them, Go slices). The
 * live deals in `stage`, in index order: *out_count gets how many; they
 * are written into out[0 .. count) when `capacity` is enough (out may be
 * NULL with capacity 0, to ask the count). Errors: SC_INVALID_ARGUMENT for
 * a stage out of range, or a buffer that is too small (nothing written). */
SC_EXPORT sc_status sc_pipeline_deals_in_stage(uint32_t* out, size_t capacity,
                                               size_t* out_count,
                                               const sc_pipeline_t* pipeline,
                                               uint32_t stage, char** errmsg);
/** Slots, live or removed: every deal index is below this. */
SC_EXPORT sc_status sc_pipeline_slot_count(uint64_t* out, const sc_pipeline_t* pipeline,
                                           char** errmsg);
/** One value a slot, into out[0 .. slot count): the stage (SC_NONE for a
 * removed slot); the time the deal entered it (0 for a removed slot); the
 * external id (0, and out_has_id 0, for a deal without one or a removed
 * slot). Errors: SC_INVALID_ARGUMENT when `capacity` is below the slot
 * count (nothing written). @{ */
SC_EXPORT sc_status sc_pipeline_stage_column(uint32_t* out, size_t capacity,
                                             const sc_pipeline_t* pipeline, char** errmsg);
SC_EXPORT sc_status sc_pipeline_entered_at_column(int64_t* out, size_t capacity,
                                                  const sc_pipeline_t* pipeline,
                                                  char** errmsg);
SC_EXPORT sc_status sc_pipeline_id_column(uint64_t* out, uint8_t* out_has_id,
                                          size_t capacity, const sc_pipeline_t* pipeline,
                                          char** errmsg);
/** @} */
/** Live deals in every stage, into out[0 .. num_stages). Errors:
 * SC_INVALID_ARGUMENT when `capacity` is less than the number of stages. */
SC_EXPORT sc_status sc_pipeline_stage_counts(uint64_t* out, size_t capacity,
                                             const sc_pipeline_t* pipeline,
                                             char** errmsg);

/** Registers an observer; either function may be NULL. *out_token names it
 * for sc_pipeline_remove_observer. */
SC_EXPORT sc_status sc_pipeline_add_observer(uint64_t* out_token,
                                             sc_pipeline_t* pipeline,
                                             sc_observer_fn on_transition,
                                             sc_observer_fn on_rejection,
                                             void* user_data, char** errmsg);
/** Registers `on_change` (see sc_change_fn); sc_pipeline_remove_observer
 * removes it by its token. */
SC_EXPORT sc_status sc_pipeline_add_change_observer(uint64_t* out_token,
                                                    sc_pipeline_t* pipeline,
                                                    sc_change_fn on_change,
                                                    void* user_data, char** errmsg);
/** Removes an observer or change observer by its token. Errors:
 * SC_NOT_FOUND for a token that is not registered. */
SC_EXPORT sc_status sc_pipeline_remove_observer(sc_pipeline_t* pipeline,
                                                uint64_t token, char** errmsg);

/** @name Funnel formats
 * The funnel report (salescycle/funnel.h) in one of these formats.
 * @{ */
#define SC_FUNNEL_TABLE 0 /**< a readable table */
#define SC_FUNNEL_JSON 1  /**< salescycle.v1.FunnelReport as JSON */
#define SC_FUNNEL_CSV 2   /**< a row a stage (and cohort) */
#define SC_FUNNEL_SVG 3   /**< the funnel chart */
#define SC_FUNNEL_PROTO 4 /**< salescycle.v1.FunnelReport, serialized */
/** The table with its reached and to-next columns in order (funnel.h). */
#define SC_FUNNEL_TABLE_IN_ORDER 5
/** @} */
/** `value_attribute` (NUL-terminated, may be NULL) names the deal value
 * attribute; `has_now` 0 judges stalled deals at the latest event, else at
 * `now`. *out_data: caller owns, free with sc_free (NUL-terminated too).
 * Errors: SC_FAILED_PRECONDITION for a pipeline with neither analytics nor
 * history; SC_NOT_FOUND / SC_INVALID_ARGUMENT for the value attribute;
 * SC_INVALID_ARGUMENT for an unknown format. */
SC_EXPORT sc_status sc_pipeline_funnel(uint8_t** out_data, size_t* out_len,
                                       const sc_pipeline_t* pipeline,
                                       int32_t format,
                                       const char* value_attribute,
                                       uint8_t has_now, int64_t now,
                                       char** errmsg);

/** What a funnel report or state covers (salescycle/funnel.h's
 * FunnelOptions). Start from SC_FUNNEL_OPTIONS_INIT (all unset), then set
 * what you need; `struct_size` lets a later version add fields after these
 * without breaking callers built against this one. Strings are
 * NUL-terminated, NULL for none; each has_* says whether its time is set.
 * The windows' bounds must start periods of the pipeline's cohort kind. */
typedef struct sc_funnel_options {
  size_t struct_size;              /**< sizeof(sc_funnel_options) */
  const char* value_attribute;     /**< the deal value attribute */
  const char* breakdown_attribute; /**< break the live deals down by it */
  uint8_t has_now;                 /**< 1: `now` is set */
  int64_t now;                     /**< when stalled deals are judged (else the latest event) */
  uint8_t has_closed_from;         /**< 1: `closed_from` is set */
  int64_t closed_from;             /**< the closes of [closed_from, closed_to) */
  uint8_t has_closed_to;           /**< 1: `closed_to` is set */
  int64_t closed_to;               /**< the window's end, excluded */
  uint8_t has_created_from;        /**< 1: `created_from` is set */
  int64_t created_from;            /**< the deals added in [created_from, created_to) */
  uint8_t has_created_to;          /**< 1: `created_to` is set */
  int64_t created_to;              /**< the window's end, excluded */
} sc_funnel_options;
/** Every option unset: `sc_funnel_options o = SC_FUNNEL_OPTIONS_INIT;` */
#define SC_FUNNEL_OPTIONS_INIT {sizeof(sc_funnel_options), NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

/** sc_pipeline_funnel with every option; `options` NULL for the defaults.
 * Errors: as sc_pipeline_funnel; SC_NOT_FOUND for the breakdown attribute;
 * SC_INVALID_ARGUMENT for a struct_size too small or a window bound that
 * does not start a period; SC_FAILED_PRECONDITION for a window without
 * cohorts. */
SC_EXPORT sc_status sc_pipeline_funnel_with(uint8_t** out_data, size_t* out_len,
                                            const sc_pipeline_t* pipeline, int32_t format,
                                            const sc_funnel_options* options, char** errmsg);

/* ---- funnel states (salescycle/funnel_state.h): a pipeline's funnel as a
 * value that merges exactly across shards and travels as bytes. Like a
 * pipeline, a state needs external synchronization: one writer (merge) at
 * a time. */

/** The pipeline's funnel state as of `now` (has_now 0: the latest event),
 * with the value and breakdown attributes named (each may be NULL).
 * *out: free with sc_funnel_state_destroy. Errors: as sc_pipeline_funnel,
 * and SC_NOT_FOUND for the breakdown attribute. */
SC_EXPORT sc_status sc_funnel_state_capture(sc_funnel_state_t** out,
                                            const sc_pipeline_t* pipeline,
                                            const char* value_attribute,
                                            const char* breakdown_attribute,
                                            uint8_t has_now, int64_t now,
                                            char** errmsg);
/** sc_funnel_state_capture with every option (the windows are kept in the
 * state); errors as sc_pipeline_funnel_with. */
SC_EXPORT sc_status sc_funnel_state_capture_with(sc_funnel_state_t** out,
                                                 const sc_pipeline_t* pipeline,
                                                 const sc_funnel_options* options,
                                                 char** errmsg);
/** Adds `other`'s deals to `into`. Errors: SC_FAILED_PRECONDITION, changing
 * nothing, for states of other machines, moments, cohorts, value or
 * breakdown attributes, or `into` == `other`. */
SC_EXPORT sc_status sc_funnel_state_merge(sc_funnel_state_t* into,
                                          const sc_funnel_state_t* other,
                                          char** errmsg);
/** The state's bytes. *out_data: caller owns, free with sc_free. */
SC_EXPORT sc_status sc_funnel_state_serialize(uint8_t** out_data, size_t* out_len,
                                              const sc_funnel_state_t* state,
                                              char** errmsg);
/** A state from its bytes, onto `machine` (the one it was captured from),
 * or with `machine` NULL onto the machine it carries (which cannot hold
 * named guards). Errors: SC_DATA_LOSS naming what is wrong;
 * SC_INVALID_ARGUMENT for a newer format or a carried spec with named
 * guards; SC_FAILED_PRECONDITION for another machine. */
SC_EXPORT sc_status sc_funnel_state_parse(sc_funnel_state_t** out,
                                          const sc_machine_t* machine,
                                          const uint8_t* data, size_t len,
                                          char** errmsg);
/** The state's report, in an SC_FUNNEL_* format (as sc_pipeline_funnel). */
SC_EXPORT sc_status sc_funnel_state_report(uint8_t** out_data, size_t* out_len,
                                           const sc_funnel_state_t* state,
                                           int32_t format, char** errmsg);
/** NULL is a no-op. */
SC_EXPORT void sc_funnel_state_destroy(sc_funnel_state_t* state);

/** A pipeline snapshot (see salescycle/snapshot.h). *out_data: caller owns,
 * free with sc_free. */
SC_EXPORT sc_status sc_pipeline_save(uint8_t** out_data, size_t* out_len,
                                     const sc_pipeline_t* pipeline,
                                     char** errmsg);
/** Written to a temporary file and renamed over `path`: a failed save leaves
 * the previous file intact. */
SC_EXPORT sc_status sc_pipeline_save_file(const sc_pipeline_t* pipeline,
                                          const char* path, char** errmsg);
/** A new pipeline of `machine` from a snapshot, within the default limits.
 * Errors: SC_DATA_LOSS for bad bytes (naming the frame and offset),
 * SC_FAILED_PRECONDITION for a snapshot of another machine or version,
 * SC_INVALID_ARGUMENT for a newer format or a declared size, history limit
 * or string past the limits. @{ */
SC_EXPORT sc_status sc_pipeline_load(sc_pipeline_t** out,
                                     const sc_machine_t* machine,
                                     const uint8_t* data, size_t len,
                                     char** errmsg);
SC_EXPORT sc_status sc_pipeline_load_file(sc_pipeline_t** out,
                                          const sc_machine_t* machine,
                                          const char* path, char** errmsg);
/** @} */
/** As the two above, within `limits` (NULL: the defaults). @{ */
SC_EXPORT sc_status sc_pipeline_load_with_limits(sc_pipeline_t** out,
                                                 const sc_machine_t* machine,
                                                 const uint8_t* data,
                                                 size_t len,
                                                 const sc_limits_t* limits,
                                                 char** errmsg);
SC_EXPORT sc_status sc_pipeline_load_file_with_limits(
    sc_pipeline_t** out, const sc_machine_t* machine, const char* path,
    const sc_limits_t* limits, char** errmsg);
/** @} */

/** \name Splitting and joining pipelines
 * Rescaling shards: the deals of some key groups move to another pipeline
 * (salescycle/snapshot.h, SavePipelinePart and LoadPipelines, says how the
 * funnel counters go with them). @{ */
/** The live deals whose key (or id) falls in key groups [first, end) of
 * `num_groups`, in index order, as sc_pipeline_deals_in_stage returns
 * deals. Errors: SC_FAILED_PRECONDITION naming a live deal with neither
 * key nor id; SC_INVALID_ARGUMENT for a bad group count or range, or a
 * buffer that is too small (nothing written). */
SC_EXPORT sc_status sc_pipeline_deals_in_key_groups(uint32_t* out, size_t capacity,
                                                    size_t* out_count,
                                                    const sc_pipeline_t* pipeline,
                                                    uint32_t num_groups, uint32_t first,
                                                    uint32_t end, char** errmsg);
/** A snapshot of deals[0 .. count) alone (live, each once), as deals 0,
 * 1, ...; with `with_counters` nonzero it also carries the pipeline's funnel
 * counters and input positions (give them to exactly one part of a split).
 * The pipeline is not changed. *out_data: caller owns, free with sc_free.
 * Errors: SC_INVALID_ARGUMENT naming a deal that is not live or is given
 * twice. */
SC_EXPORT sc_status sc_pipeline_save_part(uint8_t** out_data, size_t* out_len,
                                          const sc_pipeline_t* pipeline,
                                          const uint32_t* deals, size_t count,
                                          int with_counters, char** errmsg);
/** A new pipeline of `machine` holding the deals of `count` snapshots
 * (data[i], lens[i] bytes each) in turn, their funnel counters added and
 * their positions together; keys and ids are kept, indexes are not.
 * Errors: as sc_pipeline_load; SC_DATA_LOSS for a key, id or input source
 * that two snapshots hold; SC_FAILED_PRECONDITION for snapshots of
 * different history limits or funnel settings; SC_INVALID_ARGUMENT for
 * count 0, or a part past `limits` (NULL: the defaults, meant for
 * untrusted bytes; parts of large pipelines of one's own may need more). */
SC_EXPORT sc_status sc_pipeline_load_parts(sc_pipeline_t** out, const sc_machine_t* machine,
                                           const uint8_t* const* data, const size_t* lens,
                                           size_t count, const sc_limits_t* limits,
                                           char** errmsg);
/** @} */

/* ---- durable pipelines: a pipeline in a directory, every change journaled
 * before it is applied (salescycle/durable.h says the promise, the files
 * and recovery). Unlike a pipeline, a durable pipeline may be used from
 * any number of threads at once: writers are serialized, and those that
 * arrive while one waits for the disk share its next write and sync. */

/** @name Sync policies
 * When a durable pipeline's journal reaches the disk (SyncPolicy in
 * salescycle/durable.h).
 * @{ */
#define SC_SYNC_EVERY_WRITE 0 /**< fdatasync before a change returns */
#define SC_SYNC_INTERVAL 1    /**< a background sync every interval_ms */
#define SC_SYNC_NONE 2        /**< the system writes back when it likes */
/** @} */

/** Defaults: SC_SYNC_EVERY_WRITE, a checkpoint after 256 MiB of journal,
 * damage refused (not salvaged), the default pipeline options. */
SC_EXPORT sc_status sc_durable_options_create(sc_durable_options_t** out, char** errmsg);
/** Frees `options`; NULL is a no-op. */
SC_EXPORT void sc_durable_options_destroy(sc_durable_options_t* options);
/** Errors: SC_INVALID_ARGUMENT for an unknown policy, or an interval outside
 * 1..60000 ms with SC_SYNC_INTERVAL. */
SC_EXPORT sc_status sc_durable_options_set_sync(sc_durable_options_t* options,
                                                int32_t policy, int32_t interval_ms,
                                                char** errmsg);
/** 0: only sc_durable_checkpoint checkpoints. */
SC_EXPORT sc_status sc_durable_options_set_checkpoint_after_bytes(
    sc_durable_options_t* options, uint64_t bytes, char** errmsg);
/** 1: keep the changes before a damaged journal record (see durable.h). */
SC_EXPORT sc_status sc_durable_options_set_salvage(sc_durable_options_t* options,
                                                   uint8_t salvage, char** errmsg);
/** For a directory with no pipeline yet (an existing one keeps its own). */
SC_EXPORT sc_status sc_durable_options_set_pipeline(sc_durable_options_t* options,
                                                    const sc_options_t* pipeline,
                                                    char** errmsg);

/** Opens (or creates) the durable pipeline in the directory `dir`
 * (`dir_len` bytes), recovering it; `options` may be NULL. Errors:
 * SC_FAILED_PRECONDITION when it is open elsewhere or is another machine's;
 * SC_DATA_LOSS for a damaged snapshot or journal, naming file and offset;
 * SC_NOT_FOUND, SC_PERMISSION_DENIED etc. naming the path. */
SC_EXPORT sc_status sc_durable_open(sc_durable_t** out, const sc_machine_t* machine,
                                    const char* dir, size_t dir_len,
                                    const sc_durable_options_t* options, char** errmsg);
/** Syncs what was written, then closes; its errors are lost: call
 * sc_durable_sync first to see them. No call may run on it meanwhile. */
SC_EXPORT void sc_durable_destroy(sc_durable_t* durable);
/** What the open found: the snapshot's number, the journaled changes
 * replayed after it, the bytes dropped from the journal's end, whether
 * they were a torn tail or a salvage. Any out may be NULL. */
SC_EXPORT sc_status sc_durable_recovery(uint64_t* out_snapshot, uint64_t* out_changes,
                                        uint64_t* out_bytes_dropped, uint8_t* out_torn_tail,
                                        uint8_t* out_salvaged, const sc_durable_t* durable,
                                        char** errmsg);
/** Where the journal's read stopped, for a torn tail or a salvage ("" else).
 * *out_data: borrowed, valid until the handle is destroyed. */
SC_EXPORT sc_status sc_durable_recovery_message(const char** out_data, size_t* out_len,
                                                const sc_durable_t* durable, char** errmsg);

/** The changes, as the sc_pipeline_ calls of the same names (stage SC_NONE:
 * the initial one), each journaled. Errors: theirs; or the journal's (a
 * full disk is SC_RESOURCE_EXHAUSTED, an I/O error SC_UNAVAILABLE): the
 * change was not applied, and every later change fails alike until the
 * handle is opened again. @{ */
SC_EXPORT sc_status sc_durable_add(uint32_t* out, sc_durable_t* durable, uint32_t stage,
                                   int64_t time, char** errmsg);
SC_EXPORT sc_status sc_durable_add_with_id(uint32_t* out, sc_durable_t* durable,
                                           uint64_t id, uint32_t stage, int64_t time,
                                           char** errmsg);
SC_EXPORT sc_status sc_durable_add_with_key(uint32_t* out, sc_durable_t* durable,
                                            const char* key, size_t key_len,
                                            uint32_t stage, int64_t time, char** errmsg);
SC_EXPORT sc_status sc_durable_remove(sc_durable_t* durable, uint32_t deal, char** errmsg);
SC_EXPORT sc_status sc_durable_set_int64(sc_durable_t* durable, uint32_t deal,
                                         uint32_t attribute, int64_t value, char** errmsg);
SC_EXPORT sc_status sc_durable_set_double(sc_durable_t* durable, uint32_t deal,
                                          uint32_t attribute, double value, char** errmsg);
SC_EXPORT sc_status sc_durable_set_bool(sc_durable_t* durable, uint32_t deal,
                                        uint32_t attribute, uint8_t value, char** errmsg);
SC_EXPORT sc_status sc_durable_set_string(sc_durable_t* durable, uint32_t deal,
                                          uint32_t attribute, const char* value,
                                          size_t value_len, char** errmsg);
SC_EXPORT sc_status sc_durable_fire(int32_t* out_outcome, sc_durable_t* durable,
                                    uint32_t deal, uint32_t event, int64_t time,
                                    char** errmsg);
SC_EXPORT sc_status sc_durable_move_to(int32_t* out_outcome, sc_durable_t* durable,
                                       uint32_t deal, uint32_t stage, int64_t time,
                                       char** errmsg);
SC_EXPORT sc_status sc_durable_reopen(int32_t* out_outcome, sc_durable_t* durable,
                                      uint32_t deal, int64_t time, char** errmsg);
/** @} */
/** A batch is one journal record, all or nothing. `timed`: 1 fires the
 * timeouts due between records (Pipeline::ApplyTimed), 0 does not. Either
 * out may be NULL. Errors: as sc_pipeline_apply; SC_INVALID_ARGUMENT past
 * 2^27 records. @{ */
SC_EXPORT sc_status sc_durable_apply(uint64_t* out_accepted, uint64_t* out_rejected,
                                     sc_durable_t* durable, const sc_event_record* records,
                                     size_t count, uint8_t timed, char** errmsg);
SC_EXPORT sc_status sc_durable_apply_moves(uint64_t* out_accepted, uint64_t* out_rejected,
                                           sc_durable_t* durable,
                                           const sc_stage_record* records, size_t count,
                                           uint8_t timed, char** errmsg);
/** @} */
/** As sc_pipeline_apply_at and sc_pipeline_apply_moves_at, journaled: the
 * positions are recovered with the deals. Errors: as sc_durable_apply. @{ */
SC_EXPORT sc_status sc_durable_apply_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                        uint64_t* out_skipped, sc_durable_t* durable,
                                        const char* source, size_t source_len,
                                        uint64_t first_offset, const sc_event_record* records,
                                        size_t count, uint8_t timed, char** errmsg);
SC_EXPORT sc_status sc_durable_apply_moves_at(uint64_t* out_accepted, uint64_t* out_rejected,
                                              uint64_t* out_skipped, sc_durable_t* durable,
                                              const char* source, size_t source_len,
                                              uint64_t first_offset,
                                              const sc_stage_record* records, size_t count,
                                              uint8_t timed, char** errmsg);
/** @} */
/** As sc_pipeline_advance_to, journaled. */
SC_EXPORT sc_status sc_durable_advance_to(uint64_t* out_fired, sc_durable_t* durable,
                                          int64_t now, char** errmsg);
/** Syncs everything written so far. */
SC_EXPORT sc_status sc_durable_sync(sc_durable_t* durable, char** errmsg);
/** Writes a new snapshot atomically and starts a new journal. */
SC_EXPORT sc_status sc_durable_checkpoint(sc_durable_t* durable, char** errmsg);

/** Calls `fn(pipeline, user_data)` with a read-only view of the pipeline
 * while no change is applied: every sc_pipeline_ read (stage, find, counts,
 * funnel, save) works on it, until fn returns. A call that would change it
 * returns SC_FAILED_PRECONDITION; fn must not call sc_durable_ functions of
 * the same handle (it would wait for itself). */
typedef void (*sc_read_fn)(const sc_pipeline_t* pipeline, void* user_data);
/** Runs `fn` as sc_read_fn says. Errors: SC_FAILED_PRECONDITION from
 * inside another read of the same handle. */
SC_EXPORT sc_status sc_durable_read(const sc_durable_t* durable, sc_read_fn fn,
                                    void* user_data, char** errmsg);

/* ---- journeys: one deal as a value */

/** A journey in the initial stage, entered at `start`. `options` may be NULL
 * (only its history limit applies). */
SC_EXPORT sc_status sc_journey_create(sc_journey_t** out,
                                      const sc_machine_t* machine,
                                      int64_t start,
                                      const sc_options_t* options,
                                      char** errmsg);
/** In `stage`, one of the machine's entry stages (SC_NONE: the initial one).
 * Errors: SC_INVALID_ARGUMENT for a stage that is not an entry stage. */
SC_EXPORT sc_status sc_journey_create_in_stage(sc_journey_t** out,
                                               const sc_machine_t* machine,
                                               uint32_t stage, int64_t start,
                                               const sc_options_t* options,
                                               char** errmsg);
/** An independent copy of the journey's state (observers are not copied). */
SC_EXPORT sc_status sc_journey_clone(sc_journey_t** out,
                                     const sc_journey_t* journey,
                                     char** errmsg);
/** Frees `journey`; NULL is a no-op. */
SC_EXPORT void sc_journey_destroy(sc_journey_t* journey);
/** The journey's stage and the time it entered it (either out may be
 * NULL). */
SC_EXPORT sc_status sc_journey_stage(uint32_t* out_stage,
                                     int64_t* out_entered_at,
                                     const sc_journey_t* journey,
                                     char** errmsg);
/** As sc_pipeline_fire. @{ */
SC_EXPORT sc_status sc_journey_fire(int32_t* out_outcome,
                                    sc_journey_t* journey, uint32_t event,
                                    int64_t time, char** errmsg);
SC_EXPORT sc_status sc_journey_fire_by_name(int32_t* out_outcome,
                                            sc_journey_t* journey,
                                            const char* event,
                                            size_t event_len, int64_t time,
                                            char** errmsg);
/** @} */
/** As sc_pipeline_move_to, _move_to_by_name, _reopen, _deal_lifecycle and
 * _loss_reason. @{ */
SC_EXPORT sc_status sc_journey_move_to(int32_t* out_outcome,
                                       sc_journey_t* journey, uint32_t stage,
                                       int64_t time, char** errmsg);
SC_EXPORT sc_status sc_journey_move_to_by_name(int32_t* out_outcome,
                                               sc_journey_t* journey,
                                               const char* stage,
                                               size_t stage_len, int64_t time,
                                               char** errmsg);
SC_EXPORT sc_status sc_journey_reopen(int32_t* out_outcome,
                                      sc_journey_t* journey, int64_t time,
                                      char** errmsg);
SC_EXPORT sc_status sc_journey_lifecycle(int64_t* out_last_activity,
                                         uint32_t* out_closed_from,
                                         uint32_t* out_cycle,
                                         const sc_journey_t* journey,
                                         char** errmsg);
SC_EXPORT sc_status sc_journey_loss_reason(char** out_data, size_t* out_len,
                                           const sc_journey_t* journey,
                                           char** errmsg);
/** @} */
/** As sc_pipeline_advance_to. */
SC_EXPORT sc_status sc_journey_advance_to(uint64_t* out_fired,
                                          sc_journey_t* journey, int64_t now,
                                          char** errmsg);
/** Attributes, as for pipelines. @{ */
SC_EXPORT sc_status sc_journey_set_int64(sc_journey_t* journey,
                                         uint32_t attribute, int64_t value,
                                         char** errmsg);
SC_EXPORT sc_status sc_journey_set_double(sc_journey_t* journey,
                                          uint32_t attribute, double value,
                                          char** errmsg);
SC_EXPORT sc_status sc_journey_set_bool(sc_journey_t* journey,
                                        uint32_t attribute, uint8_t value,
                                        char** errmsg);
SC_EXPORT sc_status sc_journey_set_string(sc_journey_t* journey,
                                          uint32_t attribute,
                                          const char* value, size_t value_len,
                                          char** errmsg);
SC_EXPORT sc_status sc_journey_is_set(uint8_t* out,
                                      const sc_journey_t* journey,
                                      uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_journey_get_int64(int64_t* out,
                                         const sc_journey_t* journey,
                                         uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_journey_get_double(double* out,
                                          const sc_journey_t* journey,
                                          uint32_t attribute, char** errmsg);
SC_EXPORT sc_status sc_journey_get_bool(uint8_t* out,
                                        const sc_journey_t* journey,
                                        uint32_t attribute, char** errmsg);
/** @} */
/** *out_data: caller owns (NUL-terminated; free with sc_free). */
SC_EXPORT sc_status sc_journey_get_string(char** out_data, size_t* out_len,
                                          const sc_journey_t* journey,
                                          uint32_t attribute, char** errmsg);
/** As sc_pipeline_add_observer and sc_pipeline_remove_observer (`deal` is
 * SC_NONE in the callbacks). @{ */
SC_EXPORT sc_status sc_journey_add_observer(uint64_t* out_token,
                                            sc_journey_t* journey,
                                            sc_observer_fn on_transition,
                                            sc_observer_fn on_rejection,
                                            void* user_data, char** errmsg);
SC_EXPORT sc_status sc_journey_remove_observer(sc_journey_t* journey,
                                               uint64_t token, char** errmsg);
/** @} */
/** A journey snapshot. *out_data: caller owns, free with sc_free. */
SC_EXPORT sc_status sc_journey_save(uint8_t** out_data, size_t* out_len,
                                    const sc_journey_t* journey,
                                    char** errmsg);
/** Errors as sc_pipeline_load. */
SC_EXPORT sc_status sc_journey_load(sc_journey_t** out,
                                    const sc_machine_t* machine,
                                    const uint8_t* data, size_t len,
                                    char** errmsg);
/** Within `limits` (NULL: the defaults). */
SC_EXPORT sc_status sc_journey_load_with_limits(sc_journey_t** out,
                                                const sc_machine_t* machine,
                                                const uint8_t* data, size_t len,
                                                const sc_limits_t* limits,
                                                char** errmsg);

/* ---- partitioning (salescycle/partition.h): which shard owns a deal,
 * the same in every language and process. A key or id hashes (frozen:
 * MurmurHash3 x86_32, seed 0) to one of num_groups key groups; owner o of
 * `owners` holds a contiguous range of groups. */

/** The most key groups a deployment can have. */
#define SC_MAX_KEY_GROUPS 32768

/** The frozen hash of a key's bytes, and of an id's 8 bytes (little
 * endian). Errors: SC_INVALID_ARGUMENT for a NULL key with a length. @{ */
SC_EXPORT sc_status sc_key_hash(uint32_t* out, const char* key, size_t key_len,
                                char** errmsg);
SC_EXPORT sc_status sc_id_hash(uint32_t* out, uint64_t id, char** errmsg);
/** @} */
/** The key groups of `count` keys, into out[0 .. count): key i is the bytes
 * data[offsets[i] .. offsets[i + 1]) (offsets holds count + 1 entries,
 * nondecreasing, the last at most data_len: Arrow's layout of a string
 * column). The offsets are read once, so another thread writing them
 * during the call is never a crash. Errors: SC_INVALID_ARGUMENT for
 * num_groups outside 1..SC_MAX_KEY_GROUPS or an offset out of order or past
 * data_len, naming its index (nothing written). */
SC_EXPORT sc_status sc_key_groups(uint32_t* out, const uint8_t* data, size_t data_len,
                                  const uint64_t* offsets, size_t count,
                                  uint32_t num_groups, char** errmsg);
/** The key groups of `count` ids, into out[0 .. count). Errors: as
 * sc_key_groups. */
SC_EXPORT sc_status sc_id_groups(uint32_t* out, const uint64_t* ids, size_t count,
                                 uint32_t num_groups, char** errmsg);
/** Which of `owners` holds `group`. Errors: SC_INVALID_ARGUMENT for
 * num_groups out of range, owners outside 1..num_groups or a group past
 * it. */
SC_EXPORT sc_status sc_key_group_owner(uint32_t* out, uint32_t group, uint32_t num_groups,
                                       uint32_t owners, char** errmsg);
/** The groups [*out_first, *out_end) owner `owner` of `owners` holds.
 * Errors: as sc_key_group_owner, and for owner >= owners. */
SC_EXPORT sc_status sc_key_group_range(uint32_t* out_first, uint32_t* out_end, uint32_t owner,
                                       uint32_t owners, uint32_t num_groups, char** errmsg);
/** The parts of a rescale from `from` owners to `to` (KeyGroups::
 * RescalePlan, partition.h): *out_count gets how many; when `capacity` (in
 * parts) is enough, part i is written as out[5i .. 5i + 5): old owner, new
 * owner, first group, end group, 1 when it carries the old owner's funnel
 * counters (else 0). out may be NULL with capacity 0, to ask the count.
 * Errors: as sc_key_group_range for either count; SC_INVALID_ARGUMENT for
 * a buffer that is too small (nothing written). */
SC_EXPORT sc_status sc_key_group_rescale_plan(uint32_t* out, size_t capacity, size_t* out_count,
                                              uint32_t num_groups, uint32_t from, uint32_t to,
                                              char** errmsg);

/* ---- bulk: many deals a call, for callers whose per-call cost is high
 * (Python, Go). Keys and strings come as columns in Arrow's layout:
 * `count` byte strings, string i being data[offsets[i] .. offsets[i + 1])
 * (offsets holds count + 1 entries, nondecreasing, the last at most
 * data_len; read once). */

/** The deal of each key, or SC_NONE for a key no live deal has: a miss is
 * not an error. Errors: SC_INVALID_ARGUMENT for bad offsets, naming the
 * index. */
SC_EXPORT sc_status sc_pipeline_find_keys(uint32_t* out, const sc_pipeline_t* pipeline,
                                          const uint8_t* data, size_t data_len,
                                          const uint64_t* offsets, size_t count, char** errmsg);
/** The deal of each key, adding the keys no live deal has (in the initial
 * stage, at times[i]); *out_added (may be NULL) gets how many were added. A
 * key given twice is added once, at its first time. Errors: as
 * sc_pipeline_find_keys; SC_RESOURCE_EXHAUSTED past 2^32 - 1 deals, naming
 * the key and how many were added before it (they stay); SC_ABORTED when a
 * change observer failed (every deal is added, and out written). */
SC_EXPORT sc_status sc_pipeline_add_keys(uint32_t* out, uint64_t* out_added,
                                         sc_pipeline_t* pipeline, const uint8_t* data,
                                         size_t data_len, const uint64_t* offsets, size_t count,
                                         const int64_t* times, char** errmsg);
/** Sets attribute `attribute` of deals[i] to values[i], i < count, in one
 * call (strings as a column). All or nothing: the attribute's type and
 * every deal are checked first. Errors: SC_INVALID_ARGUMENT for an
 * attribute out of range or of another type; SC_NOT_FOUND naming the first
 * deal that is not live; SC_ABORTED when a change observer failed. @{ */
SC_EXPORT sc_status sc_pipeline_set_int64_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                                 const uint32_t* deals, const int64_t* values,
                                                 size_t count, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_double_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                                  const uint32_t* deals, const double* values,
                                                  size_t count, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_bool_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                                const uint32_t* deals, const uint8_t* values,
                                                size_t count, char** errmsg);
SC_EXPORT sc_status sc_pipeline_set_string_column(sc_pipeline_t* pipeline, uint32_t attribute,
                                                  const uint32_t* deals, const uint8_t* data,
                                                  size_t data_len, const uint64_t* offsets,
                                                  size_t count, char** errmsg);
/** @} */
/** sc_pipeline_apply with the records given as three columns: deals[i],
 * events[i], times[i]. Errors: as sc_pipeline_apply. */
SC_EXPORT sc_status sc_pipeline_apply_columns(uint64_t* out_accepted, uint64_t* out_rejected,
                                              sc_pipeline_t* pipeline, const uint32_t* deals,
                                              const uint32_t* events, const int64_t* times,
                                              size_t count, char** errmsg);

/** @name Row formats
 * sc_pipeline_ingest's `format`.
 * @{ */
#define SC_ROWS_AUTO 0  /**< JSON Lines when the text starts with a JSON object, else CSV */
#define SC_ROWS_CSV 1   /**< CSV with a header (RFC 4180) */
#define SC_ROWS_JSONL 2 /**< JSON Lines */
/** @} */
/** @name Ingest counts
 * Where sc_pipeline_ingest writes each count in `out_counts`.
 * @{ */
#define SC_INGEST_ROWS 0     /**< rows read */
#define SC_INGEST_BAD_ROWS 1 /**< rows skipped as bad */
#define SC_INGEST_ACCEPTED 2 /**< steps accepted (moves, activities) */
#define SC_INGEST_REJECTED 3 /**< steps rejected */
#define SC_INGEST_ADDED 4    /**< deals added (a deal's first row) */
#define SC_INGEST_TIMEOUTS 5 /**< timeouts fired between rows and at the end */
#define SC_INGEST_LAST_TIME 6 /**< the latest row's time (int64_t's bits; 0 with no rows) */
#define SC_INGEST_COUNTS 7   /**< how many counts there are */
/** @} */
/** Applies the rows of an event file's text to the pipeline exactly as
 * `salescycle replay` applies a file (README, The salescycle tool): CSV
 * with a header (deal, time, event or stage, attribute columns) or JSON
 * Lines; a deal's first row adds it (by key); rows in time, the machine's
 * timeouts firing between them and, at the end, up to the last row's time.
 * One call for a whole file: the way from Python or Go that costs what
 * the tool costs. A bad row is skipped and counted; *out_first_bad
 * (may be NULL) gets "LINE: what is wrong" of the first one (caller owns,
 * free with sc_free; NULL when none). With `strict` 1 the first bad row
 * stops the call with SC_INVALID_ARGUMENT naming it (the rows before it
 * applied). out_counts[SC_INGEST_*] get the counts, as many as `capacity`
 * holds (out_counts may be NULL with capacity 0). Errors:
 * SC_INVALID_ARGUMENT for a CSV header that lacks a column or names an
 * attribute the machine lacks, or an unknown format. */
SC_EXPORT sc_status sc_pipeline_ingest(uint64_t* out_counts, size_t capacity,
                                       char** out_first_bad, sc_pipeline_t* pipeline,
                                       const char* text, size_t text_len, int32_t format,
                                       uint8_t strict, char** errmsg);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SALESCYCLE_C_H_ */
