// Machine specs are user input: text format or JSON (the first byte picks
// which), compiled, then stepped and drawn, must give a result or an error,
// never a crash, a leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>

#include "salescycle/machine.h"
#include "salescycle/options.h"
#include "salescycle/render.h"

namespace salescycle {
namespace {

class NoAttributes : public AttributeReader {
 public:
  bool IsSet(AttributeId) const override { return false; }
  int64_t GetInt64(AttributeId) const override { return 0; }
  double GetDouble(AttributeId) const override { return 0; }
  bool GetBool(AttributeId) const override { return false; }
  absl::string_view GetString(AttributeId) const override { return ""; }
};

}  // namespace
}  // namespace salescycle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salescycle;
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The second bit tightens every limit, so that the refusals run too.
  CompileOptions options;
  if (data[0] & 2) {
    const size_t small = 1 + (data[0] >> 2);
    options.limits.max_spec_bytes = small * 64;
    options.limits.max_stages = small;
    options.limits.max_events = small;
    options.limits.max_attributes = small;
    options.limits.max_transitions = small;
    options.limits.max_guard_depth = small % 8;
    options.limits.max_string_length = small;
  }
  auto m = (data[0] & 1) ? Machine::FromJson(text, options)
                         : Machine::FromTextProto(text, options);
  if (!m.ok()) return 0;
  const Machine& machine = **m;
  // Named guards cannot be in a spec that compiled without them, so every
  // step is the core's own.
  const NoAttributes none;
  for (int s = 0; s < machine.num_stages(); ++s) {
    for (int e = 0; e < machine.num_events(); ++e) {
      const StepResult r = machine.Step(static_cast<StageId>(s), static_cast<EventId>(e), 0, none);
      (void)machine.ExplainRejection(r);
    }
  }
  (void)MachineToDot(machine);
  (void)MachineToMermaid(machine);
  return 0;
}
