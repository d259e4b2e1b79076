/* The C API from C: compiled as -std=c99 -Wall -Wextra -pedantic -Werror
 * (so it is also the header's strict-C test), run by ctest. Every check
 * counts; the last line is "N passed, N failed". */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salescycle/c.h"

/* The batch record's documented layout (C99 has no _Static_assert). */
typedef char record_size_is_16[sizeof(sc_event_record) == 16 ? 1 : -1];
typedef char deal_at_0[offsetof(sc_event_record, deal) == 0 ? 1 : -1];
typedef char event_at_4[offsetof(sc_event_record, event) == 4 ? 1 : -1];
typedef char time_at_8[offsetof(sc_event_record, time) == 8 ? 1 : -1];

static int passed = 0, failed = 0;
static const char* current = "";

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (cond) {                                                           \
      ++passed;                                                           \
    } else {                                                              \
      ++failed;                                                           \
      fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
              current, #cond);                                            \
    }                                                                     \
  } while (0)

static sc_status last_status;
static char* last_message = NULL; /* reused: each error replaces the last */

/* Runs `call` with &last_message and checks code and message. */
#define EXPECT(code, part, call)                                            \
  do {                                                                      \
    last_status = (call);                                                   \
    CHECK(last_status == (code));                                           \
    if ((code) != SC_OK) {                                                  \
      CHECK(last_message != NULL && strstr(last_message, (part)) != NULL);  \
      if (last_status != (code) || last_message == NULL ||                  \
          strstr(last_message, (part)) == NULL) {                           \
        fprintf(stderr, "  got %s: %s\n", sc_status_name(last_status),      \
                last_message ? last_message : "(no message)");              \
      }                                                                     \
    } else if (last_status != SC_OK) {                                      \
      fprintf(stderr, "  unexpected %s: %s\n", sc_status_name(last_status), \
              last_message ? last_message : "(no message)");                \
    }                                                                       \
  } while (0)
#define OK(call) EXPECT(SC_OK, "", call)
#define E (&last_message)

static sc_machine_t* load(const char* file) {
  char path[1024];
  sc_machine_t* m = NULL;
  snprintf(path, sizeof path, "%s/%s", SC_MACHINES_DIR, file);
  OK(sc_machine_from_file(&m, path, NULL, E));
  return m;
}

static uint32_t id_of(sc_status (*find)(uint32_t*, const sc_machine_t*,
                                        const char*, size_t, char**),
                      const sc_machine_t* m, const char* name) {
  uint32_t id = SC_NONE;
  OK(find(&id, m, name, strlen(name), E));
  return id;
}

static void test_version_and_status_names(void) {
  current = "version";
  CHECK(sc_version_number() == SC_VERSION_NUMBER);
  CHECK(strcmp(sc_version_string(), SC_VERSION_STRING) == 0);
  CHECK(strcmp(sc_status_name(SC_OK), "OK") == 0);
  CHECK(strcmp(sc_status_name(SC_DATA_LOSS), "DATA_LOSS") == 0);
  CHECK(strcmp(sc_status_name(-1), "UNKNOWN_STATUS") == 0);
  CHECK(strcmp(sc_status_name(17), "UNKNOWN_STATUS") == 0);
  sc_free(NULL);
}

static void test_machines(void) {
  sc_machine_t* m = NULL;
  const char* name = NULL;
  uint32_t n = 0, version = 0;
  int32_t kind = -1, type = -1;
  uint64_t fingerprint = 0, again = 0;
  sc_machine_t* text = NULL;
  static const char spec[] =
      "name: \"tiny\" version: 3 initial_stage: \"a\"\n"
      "stages { id: \"a\" } stages { id: \"b\" kind: WON }\n"
      "events { id: \"go\" }\n"
      "transitions { from_stage: \"a\" event: \"go\" to: \"b\" }\n";
  static const char json[] =
      "{\"name\": \"tiny\", \"version\": 3, \"initialStage\": \"a\","
      " \"stages\": [{\"id\": \"a\"}, {\"id\": \"b\", \"kind\": \"WON\"}],"
      " \"events\": [{\"id\": \"go\"}],"
      " \"transitions\": [{\"fromStage\": \"a\", \"event\": \"go\", \"to\": \"b\"}]}";
  current = "machines";

  m = load("b2b.textproto");
  CHECK(m != NULL);
  OK(sc_machine_name(&name, m, E));
  CHECK(name != NULL && strcmp(name, "b2b") == 0);
  OK(sc_machine_version(&version, m, E));
  CHECK(version == 1);
  OK(sc_machine_num_stages(&n, m, E));
  CHECK(n == 10);
  OK(sc_machine_stage_name(&name, m, 1, E));
  CHECK(strcmp(name, "initial_contact") == 0);
  OK(sc_machine_stage_kind(&kind, m, id_of(sc_machine_find_stage, m, "won"), E));
  CHECK(kind == SC_STAGE_WON);
  OK(sc_machine_attribute_type(&type, m, id_of(sc_machine_find_attribute, m, "deal_value"), E));
  CHECK(type == SC_ATTRIBUTE_DOUBLE);
  OK(sc_machine_initial_stage(&n, m, E));
  CHECK(n == id_of(sc_machine_find_stage, m, "prospecting"));
  OK(sc_machine_event_name(&name, m, id_of(sc_machine_find_event, m, "qualify"), E));
  CHECK(strcmp(name, "qualify") == 0);

  /* The whole machine as JSON, compiled again: the same machine. */
  {
    char* spec_json = NULL;
    size_t spec_len = 0;
    OK(sc_machine_spec_json(&spec_json, &spec_len, m, E));
    CHECK(spec_json != NULL && strlen(spec_json) == spec_len);
    CHECK(strstr(spec_json, "\"display_name\":\"Closed won\"") != NULL);
    OK(sc_machine_fingerprint(&fingerprint, m, E));
    OK(sc_machine_from_json(&text, spec_json, spec_len, NULL, E));
    OK(sc_machine_fingerprint(&again, text, E));
    CHECK(fingerprint == again);
    sc_machine_destroy(text);
    text = NULL;
    sc_free(spec_json);
    EXPECT(SC_INVALID_ARGUMENT, "machine is NULL",
           sc_machine_spec_json(&spec_json, &spec_len, NULL, E));
  }

  /* Lookups that fail name what they looked for. */
  EXPECT(SC_NOT_FOUND, "presnt", sc_machine_find_event(&n, m, "presnt", 6, E));
  EXPECT(SC_INVALID_ARGUMENT, "stage 10 is out of range",
         sc_machine_stage_name(&name, m, 10, E));
  EXPECT(SC_INVALID_ARGUMENT, "attribute 65536",
         sc_machine_attribute_name(&name, m, 65536, E));
  EXPECT(SC_INVALID_ARGUMENT, "sc_machine_name: machine is NULL",
         sc_machine_name(&name, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "out is NULL", sc_machine_num_stages(NULL, m, E));

  /* Text and JSON describe the same machine: the same fingerprint. */
  OK(sc_machine_from_text(&text, spec, sizeof spec - 1, NULL, E));
  OK(sc_machine_fingerprint(&fingerprint, text, E));
  sc_machine_destroy(text);
  text = NULL;
  OK(sc_machine_from_json(&text, json, sizeof json - 1, NULL, E));
  OK(sc_machine_fingerprint(&again, text, E));
  CHECK(fingerprint == again && fingerprint != 0);
  sc_machine_destroy(text);

  /* Errors name the source and the element; *out stays as it was. */
  text = (sc_machine_t*)&n; /* a sentinel: must not be overwritten */
  {
    static const char bad[] =
        "name: \"x\" initial_stage: \"a\" stages { id: \"a\" } events { id: \"go\" }"
        " transitions { from_stage: \"a\" event: \"gone\" to: \"a\" }";
    EXPECT(SC_INVALID_ARGUMENT,
           "sc_machine_from_text: <text>: transitions[0] (a --gone--> a): unknown event \"gone\"",
           sc_machine_from_text(&text, bad, sizeof bad - 1, NULL, E));
  }
  CHECK(text == (sc_machine_t*)&n);
  EXPECT(SC_NOT_FOUND, "/no/such/machine.textproto",
         sc_machine_from_file(&text, "/no/such/machine.textproto", NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "path is NULL",
         sc_machine_from_file(&text, NULL, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "text is NULL",
         sc_machine_from_text(&text, NULL, 5, NULL, E));
  CHECK(text == (sc_machine_t*)&n);

  /* errmsg may be NULL. */
  CHECK(sc_machine_find_stage(&n, m, "nope", 4, NULL) == SC_NOT_FOUND);
  sc_machine_destroy(m);
  sc_machine_destroy(NULL);
}

static void test_null_handles_never_crash(void) {
  uint32_t deal = 0;
  uint64_t count = 0;
  int32_t outcome = 0;
  uint8_t* bytes = NULL;
  size_t len = 0;
  current = "null handles";
  EXPECT(SC_INVALID_ARGUMENT, "sc_pipeline_create: machine is NULL",
         sc_pipeline_create((sc_pipeline_t**)&bytes, NULL, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "sc_pipeline_add: pipeline is NULL",
         sc_pipeline_add(&deal, NULL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL", sc_pipeline_remove(NULL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "sc_pipeline_fire: handle is NULL",
         sc_pipeline_fire(&outcome, NULL, 0, 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL",
         sc_pipeline_apply(&count, &count, NULL, NULL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_pipeline_set_int64(NULL, 0, 0, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_pipeline_get_int64((int64_t*)&count, NULL, 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL",
         sc_pipeline_stage_counts(&count, 1, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL",
         sc_pipeline_save(&bytes, &len, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "machine is NULL",
         sc_pipeline_load((sc_pipeline_t**)&bytes, NULL, NULL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_pipeline_advance_to(&count, NULL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_pipeline_add_observer(&count, NULL, NULL, NULL, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "journey is NULL", sc_journey_stage(&deal, NULL, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_journey_fire(&outcome, NULL, 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "machine is NULL",
         sc_journey_create((sc_journey_t**)&bytes, NULL, 0, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "options is NULL",
         sc_options_set_history_limit(NULL, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "deal is NULL",
         sc_deal_view_get_int64((int64_t*)&count, NULL, 0, E));
  sc_pipeline_destroy(NULL);
  sc_journey_destroy(NULL);
  sc_options_destroy(NULL);
  sc_compile_options_destroy(NULL);
}

static int transitions_seen = 0, rejections_seen = 0;
static uint32_t last_from = 0, last_to = 0, last_deal = 0;

static int32_t count_transition(void* user_data, uint32_t deal, uint32_t from,
                                uint32_t to, uint32_t event, int64_t time,
                                int32_t outcome) {
  (void)event;
  (void)time;
  CHECK(user_data == &transitions_seen);
  CHECK(outcome == SC_OUTCOME_MOVED);
  ++transitions_seen;
  last_deal = deal;
  last_from = from;
  last_to = to;
  return 0;
}

static int32_t count_rejection(void* user_data, uint32_t deal, uint32_t from,
                               uint32_t to, uint32_t event, int64_t time,
                               int32_t outcome) {
  (void)user_data;
  (void)deal;
  (void)event;
  (void)time;
  CHECK(outcome != SC_OUTCOME_MOVED);
  CHECK(from == to);
  ++rejections_seen;
  return 0;
}

static int32_t failing_observer(void* user_data, uint32_t deal, uint32_t from,
                                uint32_t to, uint32_t event, int64_t time,
                                int32_t outcome) {
  (void)deal, (void)from, (void)to, (void)event, (void)time, (void)outcome;
  ++*(int*)user_data;
  return 42;
}

static void test_pipeline(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_pipeline_t* p = NULL;
  sc_options_t* options = sc_options_create();
  uint32_t deal = 0, other = 0, found = 0, stage = 0;
  int32_t outcome = -1;
  int64_t entered = 0, budget = 0;
  uint64_t size = 0, counts[10], small[3], accepted = 0, rejected = 0, token = 0;
  char* text = NULL;
  size_t text_len = 0;
  uint8_t set = 9;
  int failures = 0;
  uint32_t contact = id_of(sc_machine_find_event, m, "contact");
  uint32_t qualify = id_of(sc_machine_find_event, m, "qualify");
  uint32_t present = id_of(sc_machine_find_event, m, "present");
  uint32_t a_budget = id_of(sc_machine_find_attribute, m, "budget");
  uint32_t a_maker = id_of(sc_machine_find_attribute, m, "decision_maker");
  sc_event_record batch[3];
  current = "pipeline";

  OK(sc_options_set_expected_deals(options, 100, E));
  EXPECT(SC_INVALID_ARGUMENT, "history limit 70000",
         sc_options_set_history_limit(options, 70000, E));
  OK(sc_pipeline_create(&p, m, options, E));
  sc_options_destroy(options);
  sc_machine_destroy(m); /* the pipeline keeps its machine alive */
  m = NULL;

  OK(sc_pipeline_add_with_key(&deal, p, "acme", 4, 100, E));
  CHECK(deal == 0);
  OK(sc_pipeline_add_with_id(&other, p, 77, 100, E));
  CHECK(other == 1);
  EXPECT(SC_ALREADY_EXISTS, "77", sc_pipeline_add_with_id(&other, p, 77, 100, E));
  OK(sc_pipeline_find_by_key(&found, p, "acme", 4, E));
  CHECK(found == deal);
  OK(sc_pipeline_find_by_id(&found, p, 77, E));
  CHECK(found == other);
  EXPECT(SC_NOT_FOUND, "nobody", sc_pipeline_find_by_key(&found, p, "nobody", 6, E));
  OK(sc_pipeline_size(&size, p, E));
  CHECK(size == 2);

  /* Attributes: typed, checked. */
  OK(sc_pipeline_is_set(&set, p, deal, a_budget, E));
  CHECK(set == 0);
  OK(sc_pipeline_set_int64(p, deal, a_budget, 50000, E));
  OK(sc_pipeline_get_int64(&budget, p, deal, a_budget, E));
  CHECK(budget == 50000);
  OK(sc_pipeline_is_set(&set, p, deal, a_budget, E));
  CHECK(set == 1);
  EXPECT(SC_INVALID_ARGUMENT, "\"budget\" is int64, not double",
         sc_pipeline_set_double(p, deal, a_budget, 1.5, E));
  EXPECT(SC_INVALID_ARGUMENT, "attribute 400 is out of range",
         sc_pipeline_set_int64(p, deal, 400, 1, E));
  EXPECT(SC_NOT_FOUND, "deal 9", sc_pipeline_set_int64(p, 9, a_budget, 1, E));
  OK(sc_pipeline_set_string(p, deal, a_maker, "C\0FO", 4, E));
  OK(sc_pipeline_get_string(&text, &text_len, p, deal, a_maker, E));
  CHECK(text_len == 4 && memcmp(text, "C\0FO", 4) == 0 && text[4] == '\0');
  sc_free(text);
  EXPECT(SC_INVALID_ARGUMENT, "value is NULL",
         sc_pipeline_set_string(p, deal, a_maker, NULL, 3, E));

  /* Observers see every step; rejections are outcomes, not errors. */
  OK(sc_pipeline_add_observer(&token, p, count_transition, count_rejection,
                              &transitions_seen, E));
  OK(sc_pipeline_fire(&outcome, p, deal, contact, 200, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  CHECK(transitions_seen == 1 && last_deal == deal && last_from == 0 && last_to == 1);
  OK(sc_pipeline_fire_by_name(&outcome, p, deal, "qualify", 7, 300, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  OK(sc_pipeline_fire(&outcome, p, deal, present, 400, E));
  CHECK(outcome == SC_OUTCOME_GUARD_FAILED); /* BANT is not complete */
  CHECK(rejections_seen == 1);
  OK(sc_pipeline_deal_stage(&stage, &entered, p, deal, E));
  CHECK(stage == 2 && entered == 300);
  EXPECT(SC_INVALID_ARGUMENT, "event 999 is out of range",
         sc_pipeline_fire(&outcome, p, deal, 999, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "event 65536 is out of range",
         sc_pipeline_fire(&outcome, p, deal, 65536, 1, E));
  EXPECT(SC_NOT_FOUND, "presnt",
         sc_pipeline_fire_by_name(&outcome, p, deal, "presnt", 6, 1, E));
  OK(sc_pipeline_remove_observer(p, token, E));
  EXPECT(SC_NOT_FOUND, "no observer is registered",
         sc_pipeline_remove_observer(p, token, E));

  /* A batch straight from a C array. */
  batch[0].deal = other; batch[0].event = contact; batch[0].time = 500;
  batch[1].deal = other; batch[1].event = qualify; batch[1].time = 501;
  batch[2].deal = other; batch[2].event = contact; batch[2].time = 502;
  OK(sc_pipeline_apply(&accepted, &rejected, p, batch, 3, E));
  CHECK(accepted == 2 && rejected == 1);
  CHECK(transitions_seen == 2); /* removed: not called */
  /* A bad record fails the whole batch and nothing is applied. */
  batch[1].deal = 12345;
  EXPECT(SC_INVALID_ARGUMENT, "12345", sc_pipeline_apply(&accepted, &rejected, p, batch, 3, E));
  OK(sc_pipeline_deal_stage(&stage, NULL, p, other, E));
  CHECK(stage == 2);
  EXPECT(SC_INVALID_ARGUMENT, "records is NULL",
         sc_pipeline_apply(&accepted, &rejected, p, NULL, 2, E));
  OK(sc_pipeline_apply(NULL, NULL, p, NULL, 0, E));

  /* The parallel batch: same checks, same result. */
  EXPECT(SC_INVALID_ARGUMENT, "threads is 0",
         sc_pipeline_apply_parallel(&accepted, &rejected, NULL, p, batch, 3, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "12345",
         sc_pipeline_apply_parallel(&accepted, &rejected, NULL, p, batch, 3, 2, E));
  OK(sc_pipeline_apply_parallel(&accepted, &rejected, NULL, p, batch, 0, 2, E));
  CHECK(accepted == 0 && rejected == 0);

  /* Stage counts, and a buffer that is too small. */
  OK(sc_pipeline_stage_counts(counts, 10, p, E));
  CHECK(counts[2] == 2 && counts[0] == 0);
  EXPECT(SC_INVALID_ARGUMENT, "the buffer holds 3 counts",
         sc_pipeline_stage_counts(small, 3, p, E));
  OK(sc_pipeline_stage_count(&size, p, 2, E));
  CHECK(size == 2);
  EXPECT(SC_INVALID_ARGUMENT, "stage 10", sc_pipeline_stage_count(&size, p, 10, E));

  /* A failing observer: the step stands, the call says so. */
  OK(sc_pipeline_add_observer(&token, p, failing_observer, failing_observer,
                              &failures, E));
  outcome = -1;
  EXPECT(SC_ABORTED, "observer callback failed with code 42",
         sc_pipeline_fire(&outcome, p, deal, contact, 600, E));
  CHECK(failures == 1);
  CHECK(outcome != -1);
  batch[1].deal = other;
  EXPECT(SC_ABORTED, "observer", sc_pipeline_apply(&accepted, &rejected, p, batch, 3, E));
  CHECK(failures == 2); /* no further callback in the same call */
  CHECK(accepted + rejected == 3);
  OK(sc_pipeline_remove_observer(p, token, E));

  /* Removing deals. */
  OK(sc_pipeline_remove(p, other, E));
  EXPECT(SC_NOT_FOUND, "sc_pipeline_remove: deal 1 is not in the pipeline", sc_pipeline_remove(p, other, E));
  EXPECT(SC_NOT_FOUND, "deal 1 is not in the pipeline", sc_pipeline_deal_stage(&stage, NULL, p, other, E));
  sc_pipeline_destroy(p);
}

/* A named guard: holds when budget is even. user_data counts calls; a
 * budget of 13 makes it fail. */
static int32_t even_budget(void* user_data, const sc_deal_view_t* deal,
                           uint8_t* out_holds) {
  int64_t budget = 0;
  uint8_t set = 0;
  char* msg = NULL;
  ++*(int*)user_data;
  if (sc_deal_view_is_set(&set, deal, 0, &msg) != SC_OK) return 1;
  if (sc_deal_view_get_int64(&budget, deal, 0, &msg) != SC_OK) return 2;
  /* A read of the wrong type is an error, not a crash. */
  CHECK(sc_deal_view_get_double(NULL, deal, 0, &msg) == SC_INVALID_ARGUMENT);
  CHECK(sc_deal_view_get_bool((uint8_t*)&set, deal, 0, &msg) == SC_INVALID_ARGUMENT);
  CHECK(msg != NULL && strstr(msg, "not bool") != NULL);
  sc_free(msg);
  if (budget == 13) return 13;
  *out_holds = (uint8_t)(set && budget % 2 == 0);
  return 0;
}

static void test_named_guards(void) {
  static const char spec[] =
      "name: \"guarded\" initial_stage: \"a\"\n"
      "stages { id: \"a\" } stages { id: \"b\" }\n"
      "events { id: \"go\" } events { id: \"back\" }\n"
      "attributes { name: \"budget\" type: INT64 }\n"
      "transitions { from_stage: \"a\" event: \"go\" to: \"b\"\n"
      "  guard { named: \"even_budget\" } }\n"
      "transitions { from_stage: \"b\" event: \"back\" to: \"a\" }\n";
  sc_compile_options_t* options = sc_compile_options_create();
  sc_machine_t* m = NULL;
  sc_journey_t* j = NULL;
  int calls = 0;
  int32_t outcome = -1;
  current = "named guards";

  EXPECT(SC_INVALID_ARGUMENT, "named guard \"even_budget\" is not registered",
         sc_machine_from_text(&m, spec, sizeof spec - 1, options, E));
  OK(sc_compile_options_add_named_guard(options, "even_budget", 11, even_budget,
                                        &calls, E));
  EXPECT(SC_ALREADY_EXISTS, "even_budget",
         sc_compile_options_add_named_guard(options, "even_budget", 11,
                                            even_budget, &calls, E));
  EXPECT(SC_INVALID_ARGUMENT, "empty",
         sc_compile_options_add_named_guard(options, "", 0, even_budget, NULL, E));
  OK(sc_compile_options_set_source_name(options, "inline.textproto", 16, E));
  OK(sc_machine_from_text(&m, spec, sizeof spec - 1, options, E));
  sc_compile_options_destroy(options);

  OK(sc_journey_create(&j, m, 0, NULL, E));
  OK(sc_journey_fire(&outcome, j, 0, 1, E));
  CHECK(outcome == SC_OUTCOME_GUARD_FAILED && calls == 1);
  OK(sc_journey_set_int64(j, 0, 4, E));
  OK(sc_journey_fire(&outcome, j, 0, 2, E));
  CHECK(outcome == SC_OUTCOME_MOVED && calls == 2);
  OK(sc_journey_fire(&outcome, j, 1, 3, E));
  OK(sc_journey_set_int64(j, 0, 13, E));
  EXPECT(SC_ABORTED, "named guard \"even_budget\" callback failed with code 13",
         sc_journey_fire(&outcome, j, 0, 4, E));
  CHECK(outcome == SC_OUTCOME_GUARD_FAILED);
  sc_journey_destroy(j);
  sc_machine_destroy(m);
}

static void test_snapshots(void) {
  sc_machine_t* m = load("cycle9_guarded.textproto");
  sc_machine_t* other = load("cycle9.textproto");
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* restored = NULL;
  uint8_t* bytes = NULL;
  size_t len = 0;
  uint64_t a[9], b[9];
  uint32_t i, deal;
  int64_t budget = 0;
  sc_event_record records[64];
  char path[256];
  current = "snapshots";

  OK(sc_pipeline_create(&p, m, NULL, E));
  for (i = 0; i < 50; ++i) {
    OK(sc_pipeline_add_with_id(&deal, p, 1000 + i, 0, E));
    OK(sc_pipeline_set_int64(p, deal, 0, (int64_t)(i * 7919 % 5000), E));
  }
  for (i = 0; i < 64; ++i) {
    records[i].deal = i % 50;
    records[i].event = i % 3; /* contact, qualify, disqualify */
    records[i].time = i;
  }
  OK(sc_pipeline_apply(NULL, NULL, p, records, 64, E));
  OK(sc_pipeline_save(&bytes, &len, p, E));
  CHECK(len > 8 && memcmp(bytes, "SCPIPE\r\n", 8) == 0);
  OK(sc_pipeline_load(&restored, m, bytes, len, E));
  OK(sc_pipeline_stage_counts(a, 9, p, E));
  OK(sc_pipeline_stage_counts(b, 9, restored, E));
  CHECK(memcmp(a, b, sizeof a) == 0);
  OK(sc_pipeline_find_by_id(&deal, restored, 1049, E));
  OK(sc_pipeline_get_int64(&budget, restored, deal, 0, E));
  CHECK(budget == (int64_t)(49 * 7919 % 5000));
  sc_pipeline_destroy(restored);
  restored = NULL;

  /* Bad bytes: an error that names the problem; nothing is made. */
  bytes[len / 2] ^= 0x20;
  EXPECT(SC_DATA_LOSS, "checksum mismatch", sc_pipeline_load(&restored, m, bytes, len, E));
  bytes[len / 2] ^= 0x20;
  EXPECT(SC_DATA_LOSS, "more than the input holds", sc_pipeline_load(&restored, m, bytes, len - 5, E));
  EXPECT(SC_DATA_LOSS, "bad magic", sc_pipeline_load(&restored, m, bytes + 1, len - 1, E));
  EXPECT(SC_FAILED_PRECONDITION, "cycle9", sc_pipeline_load(&restored, other, bytes, len, E));
  CHECK(restored == NULL);
  sc_free(bytes);

  snprintf(path, sizeof path, "%s/capi_test.scp", SC_TEMP_DIR);
  OK(sc_pipeline_save_file(p, path, E));
  OK(sc_pipeline_load_file(&restored, m, path, E));
  OK(sc_pipeline_stage_counts(b, 9, restored, E));
  CHECK(memcmp(a, b, sizeof a) == 0);
  EXPECT(SC_NOT_FOUND, "/no/such/dir", sc_pipeline_load_file(&restored, m, "/no/such/dir/x.scp", E));
  EXPECT(SC_NOT_FOUND, "/no/such/dir", sc_pipeline_save_file(p, "/no/such/dir/x.scp", E));
  sc_pipeline_destroy(restored);
  sc_pipeline_destroy(p);
  remove(path);
  sc_machine_destroy(other);
  sc_machine_destroy(m);
}

/* Keys and string attributes are bytes: Latin-1 and every byte value,
 * NUL included, survive a pipeline and a journey snapshot. */
static void test_bytes_round_trip(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* restored = NULL;
  sc_journey_t* j = NULL;
  sc_journey_t* j2 = NULL;
  uint8_t* bytes = NULL;
  size_t len = 0, got_len = 0;
  char* got = NULL;
  char every[256];
  const char latin1[] = "Jos\xe9 M\xfcller";
  uint32_t deal = 0, other = 0, found = 0, i;
  uint32_t a_maker = id_of(sc_machine_find_attribute, m, "decision_maker");
  current = "bytes round trip";
  for (i = 0; i < 256; ++i) every[i] = (char)i;

  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_add_with_key(&deal, p, latin1, sizeof latin1 - 1, 0, E));
  OK(sc_pipeline_add_with_key(&other, p, every, sizeof every, 0, E));
  OK(sc_pipeline_set_string(p, deal, a_maker, every, sizeof every, E));
  OK(sc_pipeline_save(&bytes, &len, p, E));
  OK(sc_pipeline_load(&restored, m, bytes, len, E));
  OK(sc_pipeline_find_by_key(&found, restored, latin1, sizeof latin1 - 1, E));
  CHECK(found == deal);
  OK(sc_pipeline_find_by_key(&found, restored, every, sizeof every, E));
  CHECK(found == other);
  OK(sc_pipeline_get_string(&got, &got_len, restored, deal, a_maker, E));
  CHECK(got_len == sizeof every && memcmp(got, every, sizeof every) == 0);
  sc_free(got);
  sc_free(bytes);
  sc_pipeline_destroy(restored);
  sc_pipeline_destroy(p);

  OK(sc_journey_create(&j, m, 0, NULL, E));
  OK(sc_journey_set_string(j, a_maker, latin1, sizeof latin1 - 1, E));
  OK(sc_journey_save(&bytes, &len, j, E));
  OK(sc_journey_load(&j2, m, bytes, len, E));
  OK(sc_journey_get_string(&got, &got_len, j2, a_maker, E));
  CHECK(got_len == sizeof latin1 - 1 && memcmp(got, latin1, got_len) == 0);
  sc_free(got);
  sc_free(bytes);
  sc_journey_destroy(j2);
  sc_journey_destroy(j);
  sc_machine_destroy(m);
}

static void test_journeys(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_options_t* options = sc_options_create();
  sc_journey_t* j = NULL;
  sc_journey_t* copy = NULL;
  sc_journey_t* restored = NULL;
  uint32_t stage = 0, s2 = 0;
  int32_t outcome = 0;
  uint64_t token = 0, fired = 0;
  uint8_t* bytes = NULL;
  size_t len = 0;
  double value = 0;
  uint8_t flag = 0;
  uint32_t a_value = id_of(sc_machine_find_attribute, m, "deal_value");
  uint32_t a_authority = id_of(sc_machine_find_attribute, m, "authority");
  current = "journeys";

  OK(sc_options_set_history_limit(options, 4, E));
  OK(sc_journey_create(&j, m, 1000, options, E));
  sc_options_destroy(options);
  transitions_seen = 0;
  OK(sc_journey_add_observer(&token, j, count_transition, NULL, &transitions_seen, E));
  OK(sc_journey_fire_by_name(&outcome, j, "contact", 7, 2000, E));
  CHECK(outcome == SC_OUTCOME_MOVED && transitions_seen == 1 && last_deal == SC_NONE);
  OK(sc_journey_set_double(j, a_value, 48000.5, E));
  OK(sc_journey_get_double(&value, j, a_value, E));
  CHECK(value == 48000.5);
  OK(sc_journey_set_bool(j, a_authority, 1, E));
  OK(sc_journey_get_bool(&flag, j, a_authority, E));
  CHECK(flag == 1);
  EXPECT(SC_INVALID_ARGUMENT, "not string",
         sc_journey_set_string(j, a_value, "x", 1, E));

  /* A clone is independent and has no observers. */
  OK(sc_journey_clone(&copy, j, E));
  OK(sc_journey_fire_by_name(&outcome, copy, "qualify", 7, 3000, E));
  CHECK(outcome == SC_OUTCOME_MOVED && transitions_seen == 1);
  OK(sc_journey_stage(&stage, NULL, j, E));
  OK(sc_journey_stage(&s2, NULL, copy, E));
  CHECK(stage == 1 && s2 == 2);

  /* Timeouts: prospecting-like stages rot; initial_contact has a limit. */
  OK(sc_journey_advance_to(&fired, j, 2000 + 400LL * 86400, E));
  OK(sc_journey_stage(&s2, NULL, j, E));
  CHECK(fired >= 1 && s2 != 1);

  OK(sc_journey_save(&bytes, &len, copy, E));
  OK(sc_journey_load(&restored, m, bytes, len, E));
  OK(sc_journey_stage(&stage, NULL, restored, E));
  CHECK(stage == 2);
  OK(sc_journey_get_double(&value, restored, a_value, E));
  CHECK(value == 48000.5);
  bytes[0] ^= 0xFF;
  sc_journey_destroy(restored);
  restored = NULL;
  EXPECT(SC_DATA_LOSS, "journey snapshot", sc_journey_load(&restored, m, bytes, len, E));
  CHECK(restored == NULL);
  sc_free(bytes);
  OK(sc_journey_remove_observer(j, token, E));
  sc_journey_destroy(copy);
  sc_journey_destroy(j);
  sc_machine_destroy(m);
}

static void test_funnel(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_options_t* options = sc_options_create();
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* plain = NULL;
  uint8_t* report = NULL;
  size_t len = 0;
  uint32_t deal = 0;
  int32_t outcome = 0;
  current = "funnel";
  EXPECT(SC_INVALID_ARGUMENT, "cohort 7", sc_options_set_analytics(options, 1, 7, E));
  EXPECT(SC_INVALID_ARGUMENT, "cohort 4", sc_options_set_analytics(options, 1, 4, E));
  OK(sc_options_set_analytics(options, 1, SC_COHORT_QUARTER, E));
  OK(sc_options_set_analytics(options, 1, SC_COHORT_MONTH, E));
  OK(sc_pipeline_create(&p, m, options, E));
  sc_options_destroy(options);
  OK(sc_pipeline_add_with_key(&deal, p, "acme", 4, 1767225600, E));
  OK(sc_pipeline_fire_by_name(&outcome, p, deal, "contact", 7, 1767312000, E));
  OK(sc_pipeline_add_with_key(&deal, p, "globex", 6, 1767225600, E));
  OK(sc_pipeline_fire_by_name(&outcome, p, deal, "disqualify", 10, 1767312000, E));

  OK(sc_pipeline_funnel(&report, &len, p, SC_FUNNEL_JSON, "deal_value", 0, 0, E));
  CHECK(len > 0 && report[len] == '\0');
  /* Both deals reached prospecting, acme initial contact, neither later:
   * initial contact converts 0% to the next stage, the biggest leak. */
  CHECK(strstr((const char*)report, "\"biggest_leak\": \"initial_contact\"") != NULL);
  CHECK(strstr((const char*)report, "\"label\": \"2026-01\"") != NULL);
  sc_free(report);
  OK(sc_pipeline_funnel(&report, &len, p, SC_FUNNEL_TABLE, NULL, 1, 1767312000, E));
  CHECK(strstr((const char*)report, "b2b v1 funnel as of 2026-01-02: 2 deals") != NULL);
  sc_free(report);
  OK(sc_pipeline_funnel(&report, &len, p, SC_FUNNEL_SVG, NULL, 0, 0, E));
  CHECK(len > 5 && memcmp(report, "<svg ", 5) == 0);
  sc_free(report);
  OK(sc_pipeline_funnel(&report, &len, p, SC_FUNNEL_CSV, NULL, 0, 0, E));
  CHECK(memcmp(report, "cohort,stage,", 13) == 0);
  sc_free(report);
  OK(sc_pipeline_funnel(&report, &len, p, SC_FUNNEL_PROTO, NULL, 0, 0, E));
  CHECK(len > 0);
  sc_free(report);
  EXPECT(SC_INVALID_ARGUMENT, "format 9",
         sc_pipeline_funnel(&report, &len, p, 9, NULL, 0, 0, E));
  EXPECT(SC_NOT_FOUND, "nope", sc_pipeline_funnel(&report, &len, p, 0, "nope", 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "not a number",
         sc_pipeline_funnel(&report, &len, p, 0, "decision_maker", 0, 0, E));
  {
    /* Every option: globex's deal closed (lost) on 2026-01-02, in January;
     * a window of February holds no close; the deals added in January are
     * both. */
    sc_funnel_options o = SC_FUNNEL_OPTIONS_INIT;
    sc_funnel_state_t* state = NULL;
    OK(sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_JSON, NULL, E));
    CHECK(strstr((const char*)report, "\"closes\": [{\"label\": \"2026-01\"") != NULL);
    sc_free(report);
    o.breakdown_attribute = "decision_maker";
    o.has_closed_from = 1;
    o.closed_from = 1769904000; /* 2026-02-01 */
    o.has_created_from = 1;
    o.created_from = 1767225600; /* 2026-01-01 */
    o.has_created_to = 1;
    o.created_to = 1769904000;
    OK(sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_TABLE, &o, E));
    CHECK(strstr((const char*)report, "2 deals added from 2026-01-01 to 2026-01-31") != NULL);
    CHECK(strstr((const char*)report, "by decision_maker (live deals)") != NULL);
    sc_free(report);
    o.has_created_from = o.has_created_to = 0;
    OK(sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_JSON, &o, E));
    CHECK(strstr((const char*)report, "\"closes\": [], \"closed\": {\"label\": "
                                       "\"from 2026-02-01\"") != NULL);
    sc_free(report);
    OK(sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_TABLE_IN_ORDER, NULL, E));
    CHECK(strstr((const char*)report, "reached*") != NULL);
    sc_free(report);
    OK(sc_funnel_state_capture_with(&state, p, &o, E));
    OK(sc_funnel_state_report(&report, &len, state, SC_FUNNEL_JSON, E));
    CHECK(strstr((const char*)report, "\"close_window\": true") != NULL);
    sc_free(report);
    sc_funnel_state_destroy(state);
    state = NULL;
    o.closed_from = 1769904000 + 86400;
    EXPECT(SC_INVALID_ARGUMENT, "does not start a month",
           sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_JSON, &o, E));
    o.struct_size = 8;
    EXPECT(SC_INVALID_ARGUMENT, "options.struct_size 8 is smaller",
           sc_pipeline_funnel_with(&report, &len, p, SC_FUNNEL_JSON, &o, E));
    EXPECT(SC_INVALID_ARGUMENT, "options.struct_size 8 is smaller",
           sc_funnel_state_capture_with(&state, p, &o, E));
    CHECK(state == NULL);
    EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL",
           sc_pipeline_funnel_with(&report, &len, NULL, SC_FUNNEL_JSON, NULL, E));
  }
  OK(sc_pipeline_create(&plain, m, NULL, E));
  EXPECT(SC_FAILED_PRECONDITION, "analytics",
         sc_pipeline_funnel(&report, &len, plain, 0, NULL, 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "pipeline is NULL",
         sc_pipeline_funnel(&report, &len, NULL, 0, NULL, 0, 0, E));
  sc_pipeline_destroy(plain);
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* Two shards' funnel states merge into the state of one pipeline that saw
 * both deals: the same report, byte for byte; through bytes too. */
static void test_funnel_states(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_options_t* options = sc_options_create();
  sc_pipeline_t* pipelines[3] = {NULL, NULL, NULL}; /* whole, shard a, shard b */
  sc_funnel_state_t* states[3] = {NULL, NULL, NULL};
  sc_funnel_state_t* parsed = NULL;
  uint8_t *whole = NULL, *merged = NULL, *bytes = NULL;
  size_t whole_len = 0, merged_len = 0, bytes_len = 0;
  uint32_t deal = 0;
  int32_t outcome = 0;
  int i;
  current = "funnel states";
  OK(sc_options_set_analytics(options, 1, SC_COHORT_MONTH, E));
  for (i = 0; i < 3; ++i) OK(sc_pipeline_create(&pipelines[i], m, options, E));
  sc_options_destroy(options);
  /* acme in the whole and in shard a, globex in the whole and in shard b. */
  for (i = 0; i < 2; ++i) {
    OK(sc_pipeline_add_with_key(&deal, pipelines[i], "acme", 4, 1767225600, E));
    OK(sc_pipeline_fire_by_name(&outcome, pipelines[i], deal, "contact", 7, 1767312000, E));
  }
  for (i = 0; i < 3; i += 2) {
    OK(sc_pipeline_add_with_key(&deal, pipelines[i], "globex", 6, 1767225600, E));
    OK(sc_pipeline_fire_by_name(&outcome, pipelines[i], deal, "disqualify", 10, 1767312000, E));
  }
  for (i = 0; i < 3; ++i) {
    OK(sc_funnel_state_capture(&states[i], pipelines[i], NULL, "decision_maker", 1,
                               1767312000, E));
  }
  OK(sc_funnel_state_serialize(&bytes, &bytes_len, states[1], E));
  CHECK(bytes_len > 16 && memcmp(bytes, "SCFSTATE", 8) == 0);
  OK(sc_funnel_state_parse(&parsed, m, bytes, bytes_len, E));
  OK(sc_funnel_state_merge(parsed, states[2], E));
  OK(sc_funnel_state_report(&whole, &whole_len, states[0], SC_FUNNEL_JSON, E));
  OK(sc_funnel_state_report(&merged, &merged_len, parsed, SC_FUNNEL_JSON, E));
  CHECK(whole_len == merged_len && memcmp(whole, merged, whole_len) == 0);
  CHECK(strstr((const char*)merged, "\"deals\": 2,") != NULL);
  sc_free(merged);
  OK(sc_funnel_state_report(&merged, &merged_len, states[1], SC_FUNNEL_JSON, E));
  CHECK(strstr((const char*)merged, "\"deals\": 1,") != NULL); /* a shard alone */
  sc_free(merged);
  EXPECT(SC_FAILED_PRECONDITION, "cannot merge itself", sc_funnel_state_merge(parsed, parsed, E));
  EXPECT(SC_INVALID_ARGUMENT, "other is NULL", sc_funnel_state_merge(parsed, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "into is NULL", sc_funnel_state_merge(NULL, parsed, E));
  EXPECT(SC_INVALID_ARGUMENT, "format 9",
         sc_funnel_state_report(&merged, &merged_len, parsed, 9, E));
  EXPECT(SC_INVALID_ARGUMENT, "state is NULL",
         sc_funnel_state_report(&merged, &merged_len, NULL, 0, E));
  EXPECT(SC_NOT_FOUND, "region",
         sc_funnel_state_capture(&states[0], pipelines[0], NULL, "region", 0, 0, E));
  bytes[bytes_len / 2] ^= 1;
  EXPECT(SC_DATA_LOSS, "checksum mismatch",
         sc_funnel_state_parse(&parsed, NULL, bytes, bytes_len, E));
  EXPECT(SC_INVALID_ARGUMENT, "data is NULL", sc_funnel_state_parse(&parsed, NULL, NULL, 5, E));
  sc_free(bytes);
  sc_free(whole);
  sc_funnel_state_destroy(parsed);
  sc_funnel_state_destroy(NULL);
  for (i = 0; i < 3; ++i) {
    sc_funnel_state_destroy(states[i]);
    sc_pipeline_destroy(pipelines[i]);
  }
  sc_machine_destroy(m);
}

/* An observer that tries to change the pipeline it observes: every such
 * call must be refused (one that added an observer used to free the list
 * being walked), and reading it must work. */
static sc_status reentrant_status[8];
static int reentrant_calls = 0;
static uint64_t reentrant_size = 0;
static int32_t reentrant_observer(void* user_data, uint32_t deal, uint32_t from,
                                  uint32_t to, uint32_t event, int64_t time,
                                  int32_t outcome) {
  sc_pipeline_t* p = (sc_pipeline_t*)user_data;
  uint32_t added = 0;
  int32_t fired = 0;
  uint64_t token = 0;
  sc_event_record record;
  (void)from; (void)to; (void)event; (void)outcome;
  if (reentrant_calls++ > 0) return 0;
  record.deal = deal;
  record.event = 0;
  record.time = time;
  reentrant_status[0] = sc_pipeline_add(&added, p, time, NULL);
  reentrant_status[1] = sc_pipeline_add_observer(&token, p, reentrant_observer,
                                                 NULL, p, NULL);
  reentrant_status[2] = sc_pipeline_remove_observer(p, 1, NULL);
  reentrant_status[3] = sc_pipeline_fire(&fired, p, deal, 0, time, NULL);
  reentrant_status[4] = sc_pipeline_apply(NULL, NULL, p, &record, 1, NULL);
  reentrant_status[5] = sc_pipeline_set_int64(p, deal, 0, 1, NULL);
  reentrant_status[6] = sc_pipeline_remove(p, deal, NULL);
  reentrant_status[7] = sc_pipeline_advance_to(NULL, p, time, NULL);
  return sc_pipeline_size(&reentrant_size, p, NULL) == SC_OK ? 0 : 1;
}

static void test_callbacks_may_only_read_their_handle(void) {
  sc_machine_t* m = load("cycle9_guarded.textproto");
  sc_pipeline_t* p = NULL;
  uint32_t deal = 0, stage = SC_NONE;
  uint64_t token = 0, size = 0;
  int32_t outcome = -1;
  int seen = 0;
  size_t i;
  current = "callbacks may only read their handle";

  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_add(&deal, p, 0, E));
  OK(sc_pipeline_add_observer(&token, p, reentrant_observer, reentrant_observer, p, E));
  /* A second observer: the list is still being walked when the first
   * returns. */
  OK(sc_pipeline_add_observer(&token, p, count_transition, count_rejection,
                              &transitions_seen, E));
  seen = transitions_seen;
  OK(sc_pipeline_fire(&outcome, p, deal, 0, 5, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  CHECK(transitions_seen == seen + 1);
  for (i = 0; i < 8; ++i) CHECK(reentrant_status[i] == SC_FAILED_PRECONDITION);
  CHECK(reentrant_size == 1);
  /* The call itself went through, and the handle works afterwards. */
  OK(sc_pipeline_deal_stage(&stage, NULL, p, deal, E));
  CHECK(stage == 1);
  OK(sc_pipeline_size(&size, p, E));
  CHECK(size == 1);
  OK(sc_pipeline_add(&deal, p, 6, E));
  OK(sc_pipeline_remove_observer(p, token, E));
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

static void test_limits(void) {
  static const char spec[] =
      "name: \"t\" version: 1 initial_stage: \"a\" "
      "stages { id: \"a\" } stages { id: \"b\" } stages { id: \"c\" } "
      "events { id: \"go\" } "
      "transitions { from_stage: \"a\" event: \"go\" to: \"b\" } "
      "transitions { from_stage: \"b\" event: \"go\" to: \"c\" }";
  sc_limits_t* limits = sc_limits_create();
  sc_compile_options_t* options = sc_compile_options_create();
  sc_machine_t* m = NULL;
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* restored = NULL;
  sc_journey_t* j = NULL;
  sc_journey_t* j2 = NULL;
  sc_options_t* deep = sc_options_create();
  uint8_t* bytes = NULL;
  size_t len = 0;
  uint64_t value = 0;
  uint32_t deal = 0;
  char path[256];
  current = "limits";

  CHECK(limits != NULL && options != NULL && deep != NULL);
  OK(sc_limits_get(&value, limits, SC_LIMIT_STAGES, E));
  CHECK(value == 1024);
  OK(sc_limits_get(&value, limits, SC_LIMIT_HISTORY_ENTRIES, E));
  CHECK(value == (UINT64_C(1) << 26));
  EXPECT(SC_INVALID_ARGUMENT, "limit 99 is not one of SC_LIMIT_*", sc_limits_set(limits, 99, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "limit -1 is not one of", sc_limits_get(&value, limits, -1, E));
  EXPECT(SC_INVALID_ARGUMENT, "limits is NULL", sc_limits_set(NULL, SC_LIMIT_STAGES, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "out is NULL", sc_limits_get(NULL, limits, SC_LIMIT_STAGES, E));
  EXPECT(SC_INVALID_ARGUMENT, "limits is NULL", sc_compile_options_set_limits(options, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "options is NULL", sc_compile_options_set_limits(NULL, limits, E));

  /* A spec past a limit is refused, naming it; within it, it compiles. */
  OK(sc_limits_set(limits, SC_LIMIT_STAGES, 2, E));
  OK(sc_limits_get(&value, limits, SC_LIMIT_STAGES, E));
  CHECK(value == 2);
  OK(sc_compile_options_set_limits(options, limits, E));
  EXPECT(SC_INVALID_ARGUMENT, "declares 3 stages, past Limits::max_stages (2)",
         sc_machine_from_text(&m, spec, strlen(spec), options, E));
  CHECK(m == NULL);
  OK(sc_limits_set(limits, SC_LIMIT_STAGES, 3, E));
  OK(sc_limits_set(limits, SC_LIMIT_SPEC_BYTES, 10, E));
  OK(sc_compile_options_set_limits(options, limits, E));
  EXPECT(SC_INVALID_ARGUMENT, "past Limits::max_spec_bytes (10)",
         sc_machine_from_text(&m, spec, strlen(spec), options, E));
  sc_limits_destroy(limits);
  limits = sc_limits_create();
  OK(sc_compile_options_set_limits(options, limits, E));
  OK(sc_machine_from_text(&m, spec, strlen(spec), options, E));

  /* Snapshots: a history limit past the caller's limit is refused, from
   * bytes, files and journeys alike. */
  OK(sc_options_set_history_limit(deep, 100, E));
  OK(sc_pipeline_create(&p, m, deep, E));
  OK(sc_pipeline_add(&deal, p, 0, E));
  OK(sc_pipeline_save(&bytes, &len, p, E));
  OK(sc_limits_set(limits, SC_LIMIT_HISTORY_LENGTH, 99, E));
  EXPECT(SC_INVALID_ARGUMENT, "history_limit is 100, past Limits::max_history_length (99)",
         sc_pipeline_load_with_limits(&restored, m, bytes, len, limits, E));
  CHECK(restored == NULL);
  OK(sc_pipeline_load_with_limits(&restored, m, bytes, len, NULL, E));
  sc_pipeline_destroy(restored);
  restored = NULL;
  snprintf(path, sizeof path, "%s/capi_limits.scp", SC_TEMP_DIR);
  OK(sc_pipeline_save_file(p, path, E));
  EXPECT(SC_INVALID_ARGUMENT, "past Limits::max_history_length (99)",
         sc_pipeline_load_file_with_limits(&restored, m, path, limits, E));
  OK(sc_limits_set(limits, SC_LIMIT_SNAPSHOT_DEALS, 0, E));
  OK(sc_limits_set(limits, SC_LIMIT_HISTORY_LENGTH, 100, E));
  EXPECT(SC_INVALID_ARGUMENT, "declares 1 slots, past Limits::max_snapshot_deals (0)",
         sc_pipeline_load_file_with_limits(&restored, m, path, limits, E));
  OK(sc_limits_set(limits, SC_LIMIT_SNAPSHOT_DEALS, 1, E));
  OK(sc_pipeline_load_file_with_limits(&restored, m, path, limits, E));
  remove(path);
  sc_free(bytes);

  OK(sc_journey_create(&j, m, 0, deep, E));
  OK(sc_journey_save(&bytes, &len, j, E));
  OK(sc_limits_set(limits, SC_LIMIT_HISTORY_LENGTH, 99, E));
  EXPECT(SC_INVALID_ARGUMENT, "journey snapshot: history_limit is 100",
         sc_journey_load_with_limits(&j2, m, bytes, len, limits, E));
  CHECK(j2 == NULL);
  OK(sc_journey_load_with_limits(&j2, m, bytes, len, NULL, E));
  sc_free(bytes);

  sc_journey_destroy(j2);
  sc_journey_destroy(j);
  sc_pipeline_destroy(restored);
  sc_pipeline_destroy(p);
  sc_options_destroy(deep);
  sc_machine_destroy(m);
  sc_compile_options_destroy(options);
  sc_limits_destroy(limits);
  sc_limits_destroy(NULL);
}

/* A CRM-shaped machine: free movement by stage, an activity, a loss reason
 * from the event, a reopenable lost stage, a repeat purchase. */
static const char kCrm[] =
    "name: 'crm' initial_stage: 'lead' entry_stages: 'demo'\n"
    "stages { id: 'lead' } stages { id: 'demo' }\n"
    "stages { id: 'won' kind: WON }\n"
    "stages { id: 'lost' kind: LOST reason_from_event: true reopenable: true }\n"
    "events { id: 'lose' } events { id: 'call' } events { id: 'again' }\n"
    "transitions { from_any_open: true to_any_open: true }\n"
    "transitions { from_any_open: true to_any_closed: true }\n"
    "transitions { from_any_open: true event: 'lose' to: 'lost' }\n"
    "transitions { from_any_open: true event: 'call' }\n"
    "transitions { from_stage: 'won' event: 'again' to: 'lead' new_cycle: true }\n";

static int activities_seen = 0;
static int32_t count_activity(void* user_data, uint32_t deal, uint32_t from,
                              uint32_t to, uint32_t event, int64_t time,
                              int32_t outcome) {
  (void)user_data, (void)deal, (void)event, (void)time;
  if (outcome == SC_OUTCOME_ACTIVITY) {
    CHECK(from == to);
    ++activities_seen;
  }
  return 0;
}

static void test_sales_model(void) {
  sc_machine_t* m = NULL;
  sc_pipeline_t* p = NULL;
  sc_journey_t* j = NULL;
  uint32_t deal = 0, stage = 0, closed_from = 0, cycle = 0;
  int64_t entered = 0, last_activity = 0;
  int32_t outcome = -1;
  uint64_t accepted = 0, rejected = 0, token = 0;
  char* reason = NULL;
  size_t reason_len = 0;
  sc_stage_record rows[3];
  current = "sales model";
  OK(sc_machine_from_text(&m, kCrm, sizeof kCrm - 1, NULL, E));
  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_add_observer(&token, p, count_activity, NULL, NULL, E));
  /* Entry stages. */
  OK(sc_pipeline_add_with_key_in_stage(&deal, p, "k", 1, 1, 100, E));
  OK(sc_pipeline_deal_stage(&stage, &entered, p, deal, E));
  CHECK(stage == 1 && entered == 100);
  EXPECT(SC_INVALID_ARGUMENT,
         "stage \"won\" is not an entry stage of machine \"crm\"",
         sc_pipeline_add_in_stage(&deal, p, 2, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "stage 9 is out of range",
         sc_pipeline_add_with_id_in_stage(&deal, p, 5, 9, 0, E));
  OK(sc_pipeline_add_with_id_in_stage(&deal, p, 5, SC_NONE, 0, E));
  CHECK(deal == 1);
  /* Moves by stage, one and a batch; the deal's own stage is an update. */
  OK(sc_pipeline_move_to_by_name(&outcome, p, 0, "lead", 4, 110, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  OK(sc_pipeline_move_to(&outcome, p, 0, 0, 120, E));
  CHECK(outcome == SC_OUTCOME_ACTIVITY);
  CHECK(activities_seen == 1);
  EXPECT(SC_INVALID_ARGUMENT, "stage 7 is out of range",
         sc_pipeline_move_to(&outcome, p, 0, 7, 120, E));
  EXPECT(SC_NOT_FOUND, "has no stage \"nope\"",
         sc_pipeline_move_to_by_name(&outcome, p, 0, "nope", 4, 120, E));
  rows[0].deal = 1, rows[0].stage = 1, rows[0].time = 130;
  rows[1].deal = 1, rows[1].stage = 1, rows[1].time = 140;
  rows[2].deal = 0, rows[2].stage = 2, rows[2].time = 150;
  OK(sc_pipeline_apply_moves(&accepted, &rejected, p, rows, 3, E));
  CHECK(accepted == 3 && rejected == 0);
  rows[0].stage = 40;
  EXPECT(SC_INVALID_ARGUMENT, "records[0]: stage id 40 is out of range",
         sc_pipeline_apply_moves(&accepted, &rejected, p, rows, 3, E));
  EXPECT(SC_INVALID_ARGUMENT, "records is NULL with count 2",
         sc_pipeline_apply_moves(&accepted, &rejected, p, NULL, 2, E));
  /* No loss reason yet: an empty string, still a NUL-terminated buffer. */
  OK(sc_pipeline_loss_reason(&reason, &reason_len, p, 1, E));
  CHECK(reason != NULL && reason_len == 0 && reason[0] == '\0');
  sc_free(reason);
  /* Lifecycle: activity, loss reason, reopen, a new cycle. */
  OK(sc_pipeline_fire_by_name(&outcome, p, 1, "call", 4, 160, E));
  OK(sc_pipeline_deal_lifecycle(&last_activity, &closed_from, &cycle, p, 1, E));
  CHECK(last_activity == 160 && closed_from == SC_NONE && cycle == 1);
  OK(sc_pipeline_fire_by_name(&outcome, p, 1, "lose", 4, 170, E));
  OK(sc_pipeline_loss_reason(&reason, &reason_len, p, 1, E));
  CHECK(reason_len == 4 && strcmp(reason, "lose") == 0);
  sc_free(reason);
  OK(sc_pipeline_deal_lifecycle(NULL, &closed_from, NULL, p, 1, E));
  CHECK(closed_from == 1);
  OK(sc_pipeline_reopen(&outcome, p, 1, 180, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  OK(sc_pipeline_reopen(&outcome, p, 1, 190, E));
  CHECK(outcome == SC_OUTCOME_NOT_REOPENABLE);
  OK(sc_pipeline_fire_by_name(&outcome, p, 0, "again", 5, 200, E));
  OK(sc_pipeline_deal_lifecycle(NULL, NULL, &cycle, p, 0, E));
  CHECK(cycle == 2);
  EXPECT(SC_NOT_FOUND, "deal 9 is not in the pipeline",
         sc_pipeline_deal_lifecycle(NULL, NULL, &cycle, p, 9, E));
  EXPECT(SC_INVALID_ARGUMENT, "handle is NULL",
         sc_pipeline_reopen(&outcome, NULL, 0, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "out_data is NULL",
         sc_pipeline_loss_reason(NULL, &reason_len, p, 0, E));
  /* Journeys. */
  OK(sc_journey_create_in_stage(&j, m, 1, 10, NULL, E));
  OK(sc_journey_stage(&stage, NULL, j, E));
  CHECK(stage == 1);
  OK(sc_journey_fire_by_name(&outcome, j, "call", 4, 15, E));
  OK(sc_journey_move_to_by_name(&outcome, j, "lost", 4, 20, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  OK(sc_journey_loss_reason(&reason, &reason_len, j, E));
  CHECK(reason_len == 0);
  sc_free(reason);
  OK(sc_journey_lifecycle(&last_activity, &closed_from, &cycle, j, E));
  CHECK(last_activity == 15 && closed_from == 1 && cycle == 1);
  OK(sc_journey_reopen(&outcome, j, 30, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  OK(sc_journey_move_to(&outcome, j, 2, 40, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  sc_journey_destroy(j);
  j = NULL;
  EXPECT(SC_INVALID_ARGUMENT, "is not an entry stage",
         sc_journey_create_in_stage(&j, m, 3, 0, NULL, E));
  CHECK(j == NULL);
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* Lengths no buffer can have are errors, checked before anything is read
 * (issue 15: SIZE_MAX and 2^40 used to crash). */
static void test_lengths_are_checked(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_machine_t* parsed = NULL;
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* loaded = NULL;
  sc_journey_t* j = NULL;
  sc_funnel_state_t* state = NULL;
  uint32_t deal = 0, string_attribute = 0;
  int32_t outcome = 0;
  uint64_t accepted = 0, rejected = 0;
  const char key[] = "acme";
  const uint8_t bytes[8] = {0};
  sc_event_record records[1];
  current = "lengths";
  memset(records, 0, sizeof records);
  OK(sc_pipeline_create(&p, m, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "key has length 18446744073709551615, which no buffer",
         sc_pipeline_add_with_key(&deal, p, key, SIZE_MAX, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "key has length 1099511627776, past Limits::max_string_length",
         sc_pipeline_add_with_key(&deal, p, key, (size_t)1 << 40, 0, E));
  OK(sc_pipeline_add_with_key(&deal, p, key, 4, 0, E));
  OK(sc_machine_find_attribute(&string_attribute, m, "decision_maker", 14, E));
  EXPECT(SC_INVALID_ARGUMENT, "value has length 1099511627776",
         sc_pipeline_set_string(p, deal, string_attribute, key, (size_t)1 << 40, E));
  EXPECT(SC_INVALID_ARGUMENT, "event has length 18446744073709551615",
         sc_pipeline_fire_by_name(&outcome, p, deal, "contact", SIZE_MAX, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "text has length 18446744073709551615",
         sc_machine_from_text(&parsed, "x", SIZE_MAX, NULL, E));
  CHECK(parsed == NULL);
  EXPECT(SC_INVALID_ARGUMENT, "data has length 18446744073709551615",
         sc_pipeline_load(&loaded, m, bytes, SIZE_MAX, E));
  CHECK(loaded == NULL);
  EXPECT(SC_INVALID_ARGUMENT, "data has length 18446744073709551615",
         sc_journey_load(&j, m, bytes, SIZE_MAX, E));
  EXPECT(SC_INVALID_ARGUMENT, "data has length 18446744073709551615",
         sc_funnel_state_parse(&state, m, bytes, SIZE_MAX, E));
  EXPECT(SC_INVALID_ARGUMENT, "records has count 2305843009213693952",
         sc_pipeline_apply(&accepted, &rejected, p, records, (size_t)1 << 61, E));
  EXPECT(SC_INVALID_ARGUMENT, "records has length",
         sc_pipeline_apply(&accepted, &rejected, p, records, SIZE_MAX / 16, E));
  OK(sc_pipeline_size(&accepted, p, E));
  CHECK(accepted == 1); /* nothing else was added */
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* ---- durable pipelines (issue 15) */

struct read_result {
  uint64_t size;
  uint64_t in_stage0;
  sc_status fire_status;
};

static void read_counts(const sc_pipeline_t* p, void* user_data) {
  struct read_result* r = (struct read_result*)user_data;
  int32_t outcome = 0;
  char* err = NULL;
  sc_pipeline_size(&r->size, p, NULL);
  sc_pipeline_stage_count(&r->in_stage0, p, 0, NULL);
  /* The view is read-only: a change would bypass the journal. */
  r->fire_status = sc_pipeline_fire(&outcome, (sc_pipeline_t*)p, 0, 0, 1, &err);
  sc_free(err);
}

static void test_durable(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_durable_options_t* options = NULL;
  sc_durable_t* d = NULL;
  uint32_t deal = SC_NONE;
  int32_t outcome = -1;
  uint64_t accepted = 0, rejected = 0, snapshot = 0, changes = 0, dropped = 0;
  uint8_t torn = 1, salvaged = 1;
  struct read_result r = {0, 0, SC_OK};
  const char* message = NULL;
  size_t message_len = 1;
  char path[1024];
  char command[1100];
  sc_event_record batch[2];
  current = "durable";
  /* A directory of the build tree, made afresh. */
  snprintf(path, sizeof path, "%s/capi_durable_db", SC_TEMP_DIR);
  snprintf(command, sizeof command, "rm -rf '%s'", path);
  CHECK(system(command) == 0);

  OK(sc_durable_options_create(&options, E));
  EXPECT(SC_INVALID_ARGUMENT, "interval_ms is 0",
         sc_durable_options_set_sync(options, SC_SYNC_INTERVAL, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "policy 7",
         sc_durable_options_set_sync(options, 7, 0, E));
  OK(sc_durable_options_set_sync(options, SC_SYNC_NONE, 0, E));
  OK(sc_durable_options_set_checkpoint_after_bytes(options, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "durable is NULL", sc_durable_sync(NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "machine is NULL",
         sc_durable_open(&d, NULL, path, strlen(path), options, E));
  OK(sc_durable_open(&d, m, path, strlen(path), options, E));
  OK(sc_durable_add_with_key(&deal, d, "acme", 4, SC_NONE, 100, E));
  CHECK(deal == 0);
  EXPECT(SC_ALREADY_EXISTS, "acme", sc_durable_add_with_key(&deal, d, "acme", 4, SC_NONE, 100, E));
  OK(sc_durable_set_int64(d, 0, id_of(sc_machine_find_attribute, m, "budget"), 50000, E));
  OK(sc_durable_fire(&outcome, d, 0, id_of(sc_machine_find_event, m, "contact"), 200, E));
  CHECK(outcome == SC_OUTCOME_MOVED);
  batch[0].deal = 0;
  batch[0].event = id_of(sc_machine_find_event, m, "call");
  batch[0].time = 300;
  batch[1] = batch[0];
  batch[1].deal = 9; /* past the slots: the whole batch is refused */
  EXPECT(SC_INVALID_ARGUMENT, "records[1]: deal 9", sc_durable_apply(&accepted, &rejected, d, batch, 2, 0, E));
  OK(sc_durable_apply(&accepted, &rejected, d, batch, 1, 1, E));
  CHECK(accepted == 1 && rejected == 0);
  OK(sc_durable_read(d, read_counts, &r, E));
  CHECK(r.size == 1);
  CHECK(r.fire_status == SC_FAILED_PRECONDITION);
  OK(sc_durable_sync(d, E));
  sc_durable_destroy(d);
  d = NULL;

  OK(sc_durable_open(&d, m, path, strlen(path), NULL, E));
  OK(sc_durable_recovery(&snapshot, &changes, &dropped, &torn, &salvaged, d, E));
  CHECK(snapshot == 1 && changes == 6 && dropped == 0 && torn == 0 && salvaged == 0);
  OK(sc_durable_recovery_message(&message, &message_len, d, E));
  CHECK(message != NULL && message_len == 0);
  memset(&r, 0, sizeof r);
  OK(sc_durable_read(d, read_counts, &r, E));
  CHECK(r.size == 1 && r.in_stage0 == 0); /* contacted: out of prospecting */
  OK(sc_durable_checkpoint(d, E));
  EXPECT(SC_FAILED_PRECONDITION, "open elsewhere",
         sc_durable_open(&d, m, path, strlen(path), NULL, E));
  sc_durable_destroy(d);
  sc_durable_options_destroy(options);
  sc_machine_destroy(m);
  CHECK(system(command) == 0);
}

/* Partitioning: a few of tests/data/partition_vectors.json's values (the
 * Python and Go tests check all of them through this API), the batch forms
 * against the single ones, and bad arguments. */
static void test_partitioning(void) {
  const char* keys = "helloacme-2026-renewal";
  const uint64_t offsets[3] = {0, 5, 22};
  const uint64_t bad_offsets[3] = {0, 6, 5};
  const uint64_t ids[2] = {42, 0};
  uint32_t hash = 0, groups[2] = {0, 0}, owner = 0, first = 0, end = 0;
  current = "partitioning";
  OK(sc_key_hash(&hash, "hello", 5, E));
  CHECK(hash == 0x248BFA47u); /* MurmurHash3's published value */
  OK(sc_key_hash(&hash, NULL, 0, E));
  CHECK(hash == 0);
  OK(sc_id_hash(&hash, 42, E));
  CHECK(hash == 1871679806u);
  OK(sc_key_groups(groups, (const uint8_t*)keys, 22, offsets, 2, 4096, E));
  CHECK(groups[0] == 584 && groups[1] == 3293);
  OK(sc_id_groups(groups, ids, 2, 32768, E));
  CHECK(groups[0] == 14279);
  OK(sc_key_groups(NULL, NULL, 0, offsets, 0, 1, E)); /* no keys: nothing to write */
  OK(sc_key_group_owner(&owner, 9, 10, 4, E));
  CHECK(owner == 3);
  OK(sc_key_group_range(&first, &end, 1, 3, 7, E));
  CHECK(first == 3 && end == 5);

  EXPECT(SC_INVALID_ARGUMENT, "key is NULL with length 3", sc_key_hash(&hash, NULL, 3, E));
  groups[0] = 7;
  EXPECT(SC_INVALID_ARGUMENT, "offsets[2] is 5; the offsets must not decrease",
         sc_key_groups(groups, (const uint8_t*)keys, 22, bad_offsets, 2, 16, E));
  CHECK(groups[0] == 7); /* nothing written */
  EXPECT(SC_INVALID_ARGUMENT, "offsets[2] is 22; the offsets must not decrease and stay within 21",
         sc_key_groups(groups, (const uint8_t*)keys, 21, offsets, 2, 16, E));
  EXPECT(SC_INVALID_ARGUMENT, "offsets is NULL",
         sc_key_groups(groups, (const uint8_t*)keys, 22, NULL, 2, 16, E));
  EXPECT(SC_INVALID_ARGUMENT, "0 groups; a deployment has 1 to 32768",
         sc_key_groups(groups, (const uint8_t*)keys, 22, offsets, 2, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "32769 groups",
         sc_id_groups(groups, ids, 2, SC_MAX_KEY_GROUPS + 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "ids is NULL with length 16", sc_id_groups(groups, NULL, 2, 16, E));
  EXPECT(SC_INVALID_ARGUMENT, "group 10 of 10", sc_key_group_owner(&owner, 10, 10, 4, E));
  EXPECT(SC_INVALID_ARGUMENT, "11 owners of 10 groups", sc_key_group_owner(&owner, 1, 10, 11, E));
  {
    /* 8 groups from 3 owners to 2, as partition_test.cc computes by hand. */
    const uint32_t want[20] = {0, 0, 0, 3, 1, 1, 0, 3, 4, 1, 1, 1, 4, 6, 0, 2, 1, 6, 8, 1};
    uint32_t plan[20];
    size_t parts = 0;
    OK(sc_key_group_rescale_plan(NULL, 0, &parts, 8, 3, 2, E));
    CHECK(parts == 4);
    EXPECT(SC_INVALID_ARGUMENT, "the plan has 4 parts; the buffer holds 3",
           sc_key_group_rescale_plan(plan, 3, &parts, 8, 3, 2, E));
    OK(sc_key_group_rescale_plan(plan, 4, &parts, 8, 3, 2, E));
    CHECK(memcmp(plan, want, sizeof want) == 0);
    EXPECT(SC_INVALID_ARGUMENT, "owners", sc_key_group_rescale_plan(NULL, 0, &parts, 8, 0, 2, E));
  }
  EXPECT(SC_INVALID_ARGUMENT, "owner 3 of 3", sc_key_group_range(&first, &end, 3, 3, 7, E));
  EXPECT(SC_INVALID_ARGUMENT, "out_end is NULL", sc_key_group_range(&first, NULL, 0, 1, 7, E));
}

/* Input positions: a batch applied twice is applied once; positions are in
 * snapshots and in a durable pipeline's journal. */
static void test_positions(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* loaded = NULL;
  sc_durable_t* d = NULL;
  uint32_t deal = 0, contact = id_of(sc_machine_find_event, m, "contact");
  uint64_t accepted = 9, rejected = 9, skipped = 9, position = 9;
  sc_event_record batch[3];
  sc_stage_record move;
  uint8_t* snapshot = NULL;
  char* json = NULL;
  size_t len = 0, i;
  char path[1024], command[1100];
  current = "positions";
  OK(sc_pipeline_create(&p, m, NULL, E));
  for (i = 0; i < 3; ++i) {
    OK(sc_pipeline_add(&deal, p, 100, E));
    batch[i].deal = deal;
    batch[i].event = contact;
    batch[i].time = 200 + (int64_t)i;
  }
  OK(sc_pipeline_apply_at(&accepted, &rejected, &skipped, p, "in.csv", 6, 0, batch, 3, 0, E));
  CHECK(accepted == 3 && rejected == 0 && skipped == 0);
  OK(sc_pipeline_apply_at(&accepted, &rejected, &skipped, p, "in.csv", 6, 1, batch + 1, 2, 1, E));
  CHECK(accepted == 0 && rejected == 0 && skipped == 2);
  OK(sc_pipeline_position(&position, p, "in.csv", 6, E));
  CHECK(position == 3);
  move.deal = 0;
  move.stage = 0;
  move.time = 300;
  OK(sc_pipeline_apply_moves_at(NULL, NULL, &skipped, p, "other \"x\"", 9, 7, &move, 1, 0, E));
  CHECK(skipped == 0);
  OK(sc_pipeline_positions_json(&json, &len, p, E));
  CHECK(json != NULL && strcmp(json, "{\"in.csv\": 3, \"other \\\"x\\\"\": 8}") == 0);
  sc_free(json);
  OK(sc_pipeline_save(&snapshot, &len, p, E));
  OK(sc_pipeline_load(&loaded, m, snapshot, len, E));
  OK(sc_pipeline_position(&position, loaded, "in.csv", 6, E));
  CHECK(position == 3);
  EXPECT(SC_INVALID_ARGUMENT, "named by 1 to 1024 bytes, not 0",
         sc_pipeline_apply_at(NULL, NULL, NULL, p, "", 0, 0, batch, 3, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "source is NULL with length 2",
         sc_pipeline_apply_at(NULL, NULL, NULL, p, NULL, 2, 0, batch, 3, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "run past offset 2^64 - 1",
         sc_pipeline_apply_at(NULL, NULL, NULL, p, "x", 1, UINT64_MAX, batch, 3, 0, E));

  /* Journaled: a reopen recovers the position, and a replay skips. */
  snprintf(path, sizeof path, "%s/capi_positions_db", SC_TEMP_DIR);
  snprintf(command, sizeof command, "rm -rf '%s'", path);
  CHECK(system(command) == 0);
  OK(sc_durable_open(&d, m, path, strlen(path), NULL, E));
  for (i = 0; i < 3; ++i) OK(sc_durable_add(&deal, d, SC_NONE, 100, E));
  OK(sc_durable_apply_at(&accepted, NULL, &skipped, d, "in.csv", 6, 0, batch, 3, 0, E));
  CHECK(accepted == 3 && skipped == 0);
  OK(sc_durable_apply_moves_at(NULL, NULL, &skipped, d, "in.csv", 6, 2, &move, 1, 0, E));
  CHECK(skipped == 1);
  sc_durable_destroy(d);
  d = NULL;
  OK(sc_durable_open(&d, m, path, strlen(path), NULL, E));
  OK(sc_durable_apply_at(&accepted, NULL, &skipped, d, "in.csv", 6, 0, batch, 3, 1, E));
  CHECK(accepted == 0 && skipped == 3);
  EXPECT(SC_INVALID_ARGUMENT, "is not UTF-8",
         sc_durable_apply_at(NULL, NULL, NULL, d, "\xff", 1, 0, batch, 3, 0, E));
  sc_durable_destroy(d);
  sc_free(snapshot);
  sc_pipeline_destroy(loaded);
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* Bulk calls: keys found and added, attribute columns, records as columns. */
static void test_bulk(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_pipeline_t* p = NULL;
  const char* keys = "acmeglobexacme";
  const uint64_t offsets[4] = {0, 4, 10, 14};
  const int64_t times[3] = {5, 6, 7};
  const int64_t budgets[3] = {100, 200, 300};
  const uint8_t flags[3] = {1, 0, 1};
  const char* names = "CFOCEO";
  const uint64_t name_offsets[3] = {0, 3, 6};
  const uint64_t find_offsets[3] = {0, 6, 10};
  uint32_t deals[3] = {7, 7, 7}, found[3], bad[2], budget, value, authority, maker;
  uint32_t events[2], two[2];
  int64_t got = 0, event_times[2] = {10, 11};
  uint64_t added = 9, accepted = 0, rejected = 0;
  current = "bulk";
  budget = id_of(sc_machine_find_attribute, m, "budget");
  value = id_of(sc_machine_find_attribute, m, "deal_value");
  authority = id_of(sc_machine_find_attribute, m, "authority");
  maker = id_of(sc_machine_find_attribute, m, "decision_maker");
  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_add_keys(deals, &added, p, (const uint8_t*)keys, 14, offsets, 3, times, E));
  CHECK(added == 2 && deals[0] == deals[2] && deals[0] != deals[1]);
  OK(sc_pipeline_find_keys(found, p, (const uint8_t*)"globexnone", 10, find_offsets, 2, E));
  CHECK(found[0] == deals[1] && found[1] == SC_NONE);
  OK(sc_pipeline_set_int64_column(p, budget, deals, budgets, 3, E));
  OK(sc_pipeline_get_int64(&got, p, deals[0], budget, E));
  CHECK(got == 300); /* deals[0] and deals[2] are one deal: the last value */
  OK(sc_pipeline_set_bool_column(p, authority, deals, flags, 3, E));
  OK(sc_pipeline_set_string_column(p, maker, deals, (const uint8_t*)names, 6, name_offsets, 2, E));
  bad[0] = deals[1];
  bad[1] = 42;
  EXPECT(SC_NOT_FOUND, "deals[1]: deal 42 is not live",
         sc_pipeline_set_int64_column(p, budget, bad, budgets, 2, E));
  OK(sc_pipeline_get_int64(&got, p, deals[1], budget, E));
  CHECK(got == 200); /* nothing was set */
  EXPECT(SC_INVALID_ARGUMENT, "is double, not int64",
         sc_pipeline_set_int64_column(p, value, deals, budgets, 3, E));
  EXPECT(SC_INVALID_ARGUMENT, "values is NULL",
         sc_pipeline_set_double_column(p, value, deals, NULL, 3, E));
  events[0] = id_of(sc_machine_find_event, m, "contact");
  events[1] = id_of(sc_machine_find_event, m, "win");
  two[0] = deals[0];
  two[1] = deals[1];
  OK(sc_pipeline_apply_columns(&accepted, &rejected, p, two, events, event_times, 2, E));
  CHECK(accepted == 1 && rejected == 1);
  EXPECT(SC_INVALID_ARGUMENT, "times is NULL with length 16",
         sc_pipeline_apply_columns(NULL, NULL, p, two, events, NULL, 2, E));
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* A whole event file in one call, as the tool's replay reads it. */
static void test_ingest(void) {
  sc_machine_t* m = load("b2b.textproto");
  sc_pipeline_t* p = NULL;
  const char* text = "deal,time,event\nacme,100,contact\nglobex,101,nope\nacme,102,qualify\n";
  uint64_t counts[SC_INGEST_COUNTS + 1];
  char* bad = NULL;
  current = "ingest";
  memset(counts, 0xff, sizeof counts);
  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_ingest(counts, SC_INGEST_COUNTS, &bad, p, text, strlen(text), SC_ROWS_AUTO, 0, E));
  CHECK(counts[SC_INGEST_ROWS] == 3 && counts[SC_INGEST_BAD_ROWS] == 1);
  CHECK(counts[SC_INGEST_ACCEPTED] == 2 && counts[SC_INGEST_ADDED] == 1);
  CHECK(counts[SC_INGEST_LAST_TIME] == 102);
  CHECK(counts[SC_INGEST_COUNTS] == UINT64_MAX); /* past capacity: not written */
  CHECK(bad != NULL && strncmp(bad, "3: ", 3) == 0);
  sc_free(bad);
  EXPECT(SC_INVALID_ARGUMENT, "line 3: ",
         sc_pipeline_ingest(NULL, 0, NULL, p, text, strlen(text), SC_ROWS_CSV, 1, E));
  EXPECT(SC_INVALID_ARGUMENT, "format 7", sc_pipeline_ingest(NULL, 0, NULL, p, text, 3, 7, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "text is NULL", sc_pipeline_ingest(NULL, 0, NULL, p, NULL, 5, 0, 0, E));
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

/* Rescaling: the deals of some key groups saved as a part, and parts joined
 * into one pipeline (salescycle/snapshot.h). */
static void test_split_and_join(void) {
  sc_machine_t* m = load("cycle9.textproto");
  sc_pipeline_t* p = NULL;
  sc_pipeline_t* joined = NULL;
  const char* keys = "k0k1k2k3k4k5k6k7";
  const uint64_t offsets[9] = {0, 2, 4, 6, 8, 10, 12, 14, 16};
  const int64_t times[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint32_t deals[8], low[8], high[8], twice[2];
  size_t n_low = 0, n_high = 0, len[2] = {0, 0}, same[2], count = 0;
  uint64_t added = 0, size = 0;
  uint8_t* parts[2] = {NULL, NULL};
  const uint8_t* views[2];
  current = "split_and_join";
  OK(sc_pipeline_create(&p, m, NULL, E));
  OK(sc_pipeline_add_keys(deals, &added, p, (const uint8_t*)keys, 16, offsets, 8, times, E));
  CHECK(added == 8);
  OK(sc_pipeline_deals_in_key_groups(NULL, 0, &n_low, p, 16, 0, 8, E));
  OK(sc_pipeline_deals_in_key_groups(low, 8, &n_low, p, 16, 0, 8, E));
  OK(sc_pipeline_deals_in_key_groups(high, 8, &n_high, p, 16, 8, 16, E));
  CHECK(n_low + n_high == 8);
  if (n_low > 0) {
    EXPECT(SC_INVALID_ARGUMENT, "the buffer holds 0",
           sc_pipeline_deals_in_key_groups(low, 0, &count, p, 16, 0, 8, E));
  }
  EXPECT(SC_INVALID_ARGUMENT, "not within the 16",
         sc_pipeline_deals_in_key_groups(NULL, 0, &count, p, 16, 0, 17, E));
  OK(sc_pipeline_save_part(&parts[0], &len[0], p, low, n_low, 1, E));
  OK(sc_pipeline_save_part(&parts[1], &len[1], p, high, n_high, 0, E));
  twice[0] = deals[3];
  twice[1] = deals[3];
  EXPECT(SC_INVALID_ARGUMENT, "deals[1] = 3 is given twice",
         sc_pipeline_save_part(&parts[0], &len[0], p, twice, 2, 0, E));
  EXPECT(SC_INVALID_ARGUMENT, "deals is NULL with count 2",
         sc_pipeline_save_part(&parts[0], &len[0], p, NULL, 2, 0, E));
  views[0] = parts[0];
  views[1] = parts[1];
  OK(sc_pipeline_load_parts(&joined, m, views, len, 2, NULL, E));
  OK(sc_pipeline_size(&size, joined, E));
  CHECK(size == 8);
  sc_pipeline_destroy(joined);
  joined = NULL;
  views[1] = parts[0];
  same[0] = same[1] = len[0];
  EXPECT(SC_DATA_LOSS, "appears twice", sc_pipeline_load_parts(&joined, m, views, same, 2, NULL, E));
  CHECK(joined == NULL);
  EXPECT(SC_INVALID_ARGUMENT, "no snapshots", sc_pipeline_load_parts(&joined, m, views, len, 0, NULL, E));
  EXPECT(SC_INVALID_ARGUMENT, "lens is NULL", sc_pipeline_load_parts(&joined, m, views, NULL, 2, NULL, E));
  sc_free(parts[0]);
  sc_free(parts[1]);
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
}

int main(void) {
  test_version_and_status_names();
  test_machines();
  test_null_handles_never_crash();
  test_pipeline();
  test_named_guards();
  test_snapshots();
  test_bytes_round_trip();
  test_journeys();
  test_funnel();
  test_funnel_states();
  test_limits();
  test_callbacks_may_only_read_their_handle();
  test_sales_model();
  test_lengths_are_checked();
  test_durable();
  test_partitioning();
  test_positions();
  test_bulk();
  test_ingest();
  test_split_and_join();
  sc_free(last_message);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
