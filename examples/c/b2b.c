/* Five deals through the B2B template with the C API, then the stage
 * counts. examples/python/b2b.py and examples/go/main.go do the same and
 * print the same lines (examples/b2b_expected.txt).
 *
 *   b2b MACHINE.textproto */
#include <stdio.h>
#include <string.h>

#include "salescycle/c.h"

static const int64_t kStart = 1767225600; /* 2026-01-01 */
static int64_t now = 1767225600;

/* Prints the error, frees it, and says whether the call failed. */
static int failed(sc_status status, char** errmsg) {
  if (status == SC_OK) return 0;
  fprintf(stderr, "%s: %s\n", sc_status_name(status), *errmsg);
  sc_free(*errmsg);
  *errmsg = NULL;
  return 1;
}

static const char* const kOutcomes[] = {"moved", "no_transition", "guard_failed",
                                        "missing_attribute", "no_deal"};

static int fire(sc_pipeline_t* p, const char* name, uint32_t deal,
                const char* event, char** errmsg) {
  int32_t outcome = 0;
  now += 86400;
  if (failed(sc_pipeline_fire_by_name(&outcome, p, deal, event, strlen(event),
                                      now, errmsg),
             errmsg)) {
    return 1;
  }
  if (outcome != SC_OUTCOME_MOVED) {
    printf("%s: %s rejected (%s)\n", name, event, kOutcomes[outcome]);
  }
  return 0;
}

static uint32_t attribute(const sc_machine_t* m, const char* name) {
  uint32_t id = SC_NONE;
  sc_machine_find_attribute(&id, m, name, strlen(name), NULL);
  return id;
}

int main(int argc, char** argv) {
  sc_machine_t* m = NULL;
  sc_pipeline_t* p = NULL;
  char* errmsg = NULL;
  uint32_t deal[5], stages = 0, s;
  uint64_t counts[64];
  const char* names[5] = {"acme", "globex", "initech", "umbrella", "hooli"};
  int i, rc = 1;
  if (argc != 2) {
    fprintf(stderr, "usage: b2b MACHINE.textproto\n");
    return 2;
  }
  if (failed(sc_machine_from_file(&m, argv[1], NULL, &errmsg), &errmsg)) return 1;
  if (failed(sc_pipeline_create(&p, m, NULL, &errmsg), &errmsg)) goto done;
  for (i = 0; i < 5; ++i) {
    if (failed(sc_pipeline_add_with_key(&deal[i], p, names[i], strlen(names[i]),
                                        kStart, &errmsg),
               &errmsg)) {
      goto done;
    }
  }
  /* acme: qualified on BANT, presented, negotiated, closed, won. */
  if (fire(p, "acme", deal[0], "contact", &errmsg) ||
      fire(p, "acme", deal[0], "qualify", &errmsg) ||
      failed(sc_pipeline_set_int64(p, deal[0], attribute(m, "budget"), 50000, &errmsg), &errmsg) ||
      failed(sc_pipeline_set_bool(p, deal[0], attribute(m, "authority"), 1, &errmsg), &errmsg) ||
      failed(sc_pipeline_set_bool(p, deal[0], attribute(m, "need"), 1, &errmsg), &errmsg) ||
      failed(sc_pipeline_set_int64(p, deal[0], attribute(m, "timeline_days"), 90, &errmsg), &errmsg) ||
      fire(p, "acme", deal[0], "present", &errmsg) ||
      failed(sc_pipeline_set_double(p, deal[0], attribute(m, "deal_value"), 48000, &errmsg), &errmsg) ||
      fire(p, "acme", deal[0], "negotiate", &errmsg) ||
      failed(sc_pipeline_set_string(p, deal[0], attribute(m, "decision_maker"), "CFO", 3, &errmsg), &errmsg) ||
      fire(p, "acme", deal[0], "close", &errmsg) ||
      fire(p, "acme", deal[0], "win", &errmsg) ||
      /* globex: no BANT yet, so the presentation is refused. */
      fire(p, "globex", deal[1], "contact", &errmsg) ||
      fire(p, "globex", deal[1], "qualify", &errmsg) ||
      fire(p, "globex", deal[1], "present", &errmsg) ||
      fire(p, "initech", deal[2], "contact", &errmsg) ||
      fire(p, "umbrella", deal[3], "disqualify", &errmsg)) {
    goto done;
  }
  if (failed(sc_machine_num_stages(&stages, m, &errmsg), &errmsg) ||
      failed(sc_pipeline_stage_counts(counts, 64, p, &errmsg), &errmsg)) {
    goto done;
  }
  for (s = 0; s < stages; ++s) {
    const char* stage = NULL;
    sc_machine_stage_name(&stage, m, s, NULL);
    printf("%s: %llu\n", stage, (unsigned long long)counts[s]);
  }
  rc = 0;
done:
  sc_pipeline_destroy(p);
  sc_machine_destroy(m);
  return rc;
}
