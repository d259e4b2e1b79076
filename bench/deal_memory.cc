// Bytes a deal costs while deals are added (issue 17): peak RSS and
// Pipeline::MemoryUsage over N deals added one by one with no size hint,
// each with one numeric attribute set, funnel tracking on, addressed by
// index, by 64-bit id or by an 18-character key.
//
//   build/bench/deal_memory DEALS index|id|key [MACHINE [few|distinct]]
//
// MACHINE (a machine file; its attribute 0, which must be numeric, is the
// one set) measures a machine of one's own instead of the two-stage one
// the issue's figures are for. Its string attributes are left unset, or
// set, each deal's, to one of 8 values of 20-odd characters (`few`: a lead
// source, an owner, a lost reason) or to a value of its own (`distinct`:
// a contact's 27-character email).
//
// Peak RSS is the process's high-water mark (getrusage) after the adds,
// less the one before: what a host must provision, growth spikes included.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "salescycle/machine.h"
#include "salescycle/pipeline.h"

namespace {

long PeakKb() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: deal_memory DEALS index|id|key [MACHINE [few|distinct]]\n");
    return 2;
  }
  const std::string strings = argc == 5 ? argv[4] : "";
  if (!strings.empty() && strings != "few" && strings != "distinct") {
    std::fprintf(stderr, "deal_memory: strings are few or distinct, not \"%s\"\n", argv[4]);
    return 2;
  }
  const long deals = std::atol(argv[1]);
  const std::string kind = argv[2];
  auto machine = argc >= 4 ? salescycle::Machine::FromFile(argv[3])
                           : salescycle::Machine::FromTextProto(R"(
    name: "memory" initial_stage: "lead"
    stages { id: "lead" } stages { id: "won" kind: WON }
    events { id: "win" }
    transitions { from_stage: "lead" event: "win" to: "won" }
    attributes { name: "value" type: DOUBLE })");
  if (!machine.ok()) {
    std::fprintf(stderr, "%s\n", machine.status().ToString().c_str());
    return 1;
  }
  if ((*machine)->num_attributes() == 0 ||
      ((*machine)->attribute(0).type != salescycle::AttributeType::kInt64 &&
       (*machine)->attribute(0).type != salescycle::AttributeType::kDouble)) {
    std::fprintf(stderr, "deal_memory: the machine's attribute 0 must be INT64 or DOUBLE\n");
    return 2;
  }
  const bool as_int = (*machine)->attribute(0).type == salescycle::AttributeType::kInt64;
  std::vector<salescycle::AttributeId> string_attributes;
  if (!strings.empty()) {
    for (salescycle::AttributeId a = 0; a < (*machine)->num_attributes(); ++a) {
      if ((*machine)->attribute(a).type == salescycle::AttributeType::kString) {
        string_attributes.push_back(a);
      }
    }
  }
  salescycle::PipelineOptions options;
  options.analytics.enabled = true;
  auto p = salescycle::Pipeline::Create(*machine, options);
  if (!p.ok()) return 1;
  // The keys are made one at a time, as a CRM's rows arrive: 18 characters.
  char key[32];
  const long before = PeakKb();
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < deals; ++i) {
    absl::StatusOr<salescycle::DealIndex> d;
    if (kind == "key") {
      std::snprintf(key, sizeof key, "deal-%013ld", i);
      d = p->AddWithKey(key, 1767225600 + i);
    } else if (kind == "id") {
      d = p->AddWithId(static_cast<uint64_t>(i) * 7919, 1767225600 + i);
    } else {
      d = p->Add(1767225600 + i);
    }
    const auto value = as_int ? salescycle::AttributeValue::Int64(i)
                              : salescycle::AttributeValue::Double(static_cast<double>(i));
    if (!d.ok() || !p->Set(*d, 0, value).ok()) return 1;
    for (const salescycle::AttributeId a : string_attributes) {
      const std::string text = strings == "few"
                                   ? absl::StrCat("a value of a few, number ", (i + a) % 8)
                                   : absl::StrFormat("contact%010ld@example.com", i);
      if (!p->Set(*d, a, salescycle::AttributeValue::String(text)).ok()) return 1;
    }
  }
  const long after = PeakKb();
  const double add_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      deals;
  // Every deal found again, in another order (a stride through them).
  const auto find_start = std::chrono::steady_clock::now();
  uint64_t found = 0;
  for (long n = 0, i = 0; n < deals; ++n, i = (i + 7919) % deals) {
    if (kind == "key") {
      std::snprintf(key, sizeof key, "deal-%013ld", i);
      found += p->IndexOfKey(key).has_value();
    } else if (kind == "id") {
      found += p->FindById(static_cast<uint64_t>(i) * 7919).ok();
    } else {
      found += p->Contains(static_cast<salescycle::DealIndex>(i));
    }
  }
  const double find_ns = std::chrono::duration<double, std::nano>(
                             std::chrono::steady_clock::now() - find_start).count() /
                         deals;
  if (found != static_cast<uint64_t>(deals)) return 1;
  const std::string label = strings.empty() ? kind : absl::StrCat(kind, ", strings ", strings);
  std::printf("%ld deals by %s: peak RSS %.1f bytes a deal, MemoryUsage %.1f bytes a deal; "
              "%.0f ns an add (with its Set), %.0f ns a find\n",
              deals, label.c_str(), (after - before) * 1024.0 / deals,
              static_cast<double>(p->MemoryUsage()) / deals, add_ns, find_ns);
  return 0;
}
