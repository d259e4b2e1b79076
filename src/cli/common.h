// What the `salescycle` tool's commands share: exit codes, the command
// line, errors, and where output goes.
#ifndef SALESCYCLE_SRC_CLI_COMMON_H_
#define SALESCYCLE_SRC_CLI_COMMON_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace salescycle {
namespace cli {

// Exit codes, as `salescycle --help` documents them.
inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;     // bad input, an unreadable file, a failed write
inline constexpr int kUsage = 2;      // bad command line
inline constexpr int kBadRows = 3;    // done, but some event rows were skipped
inline constexpr int kRejected = 4;   // done, but more steps were rejected
                                      // than --max-rejected allows

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  bool strict = false;
  std::optional<bool> progress;
  std::set<std::string> switches;  // a command's own, without a value
};

// Prints why and a hint at --help; returns kUsage.
int Usage(const std::string& why);
// Prints the status's message; returns kFailed.
int Fail(const absl::Status& status);

// argv[first..]: positional arguments, the `known` options (each with a
// value, as --name value or --name=value; a name ending in "!" is a switch
// without one, in `switches`) and the switches --strict, --progress,
// --no-progress. "--" ends the options; "-" is a positional argument (stdin).
// InvalidArgument for an unknown option, a short one, a value missing or
// given to a switch, an option given twice.
absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first,
                               const std::vector<std::string>& known);

// Whether to show progress: --progress, --no-progress, else whether stderr
// is a terminal.
bool ShowProgress(const Args& args);

// "WHAT: N UNIT (P%)" on stderr, redrawn at most every 100 ms, for the
// commands that can take long (replay, report on events, simulate).
class ProgressLine {
 public:
  ProgressLine(const char* what, const char* unit, bool on) : what_(what), unit_(unit), on_(on) {}
  // `count` done, `fraction` of the whole (0 to 1).
  void Update(uint64_t count, double fraction) {
    if (!on_ || (count & 0xFFF) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_shown_ <= std::chrono::milliseconds(100)) return;
    last_shown_ = now;
    std::fprintf(stderr, "\r%s: %llu %s (%.0f%%)", what_, static_cast<unsigned long long>(count),
                 unit_, 100.0 * fraction);
  }
  void Done(uint64_t count) {
    if (!on_) return;
    std::fprintf(stderr, "\r%s: %llu %s (100%%)\n", what_, static_cast<unsigned long long>(count),
                 unit_);
  }

 private:
  const char* what_;
  const char* unit_;
  bool on_;
  std::chrono::steady_clock::time_point last_shown_ = std::chrono::steady_clock::now();
};

// `text` to --out FILE, or to stdout (no --out, or --out -).
absl::Status WriteOut(const Args& args, const std::string& text);

// --max-rejected SHARE (0 to 1), if given. InvalidArgument for anything else.
absl::StatusOr<std::optional<double>> MaxRejected(const Args& args);
// kRejected, with a line on stderr, when `rejected` of `rejected +
// accepted` steps is more than `max`; else `code`.
int CheckRejected(std::optional<double> max, uint64_t rejected,
                  uint64_t accepted, int code);


}  // namespace cli
}  // namespace salescycle

#endif  // SALESCYCLE_SRC_CLI_COMMON_H_
