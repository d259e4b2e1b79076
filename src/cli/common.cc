#include "src/cli/common.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/snapshot_io.h"
#include "src/status_macros.h"

namespace salescycle {
namespace cli {

int Usage(const std::string& why) {
  std::fprintf(stderr, "salescycle: %s\n(salescycle --help for usage)\n", why.c_str());
  return kUsage;
}

bool ShowProgress(const Args& args) { return args.progress.value_or(::isatty(2) != 0); }

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "salescycle: %s\n", std::string(status.message()).c_str());
  return kFailed;
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first,
                               const std::vector<std::string>& known) {
  Args args;
  bool options_end = false;  // after "--", everything is positional
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (options_end || a == "-" || !absl::StartsWith(a, "-")) {
      args.positional.push_back(a);  // "-": stdin (or stdout for --out)
      continue;
    }
    if (a == "--") {
      options_end = true;
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", a, " (options are long: --name or --name=value)"));
    }
    // --name=value or --name value.
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::optional<std::string> value;
    if (eq != std::string::npos) value = a.substr(eq + 1);
    const bool common_switch =
        name == "strict" || name == "progress" || name == "no-progress";
    const bool own_switch =
        std::find(known.begin(), known.end(), name + "!") != known.end();
    if (common_switch || own_switch) {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      if (name == "strict") {
        args.strict = true;
      } else if (name == "progress" || name == "no-progress") {
        args.progress = name == "progress";
      } else {
        args.switches.insert(name);
      }
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    if (!value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      value = argv[++i];
    }
    // The last of two would win silently: say so instead.
    if (!args.options.emplace(name, *value).second) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given twice"));
    }
  }
  return args;
}

absl::Status WriteOut(const Args& args, const std::string& text) {
  const auto out = args.options.find("out");
  if (out == args.options.end() || out->second == "-") {  // "-": stdout
    // Checked, and flushed here: a full disk or a closed pipe behind stdout
    // is an error exit, not a report that silently went nowhere.
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      const int err = errno;
      return absl::UnavailableError(absl::StrCat("cannot write to stdout: ",
                                                 err != 0 ? std::strerror(err) : "write failed"));
    }
    return absl::OkStatus();
  }
  // Whole or not at all: a temporary file beside it, then a rename.
  internal::FileWriter file(out->second, "the output");
  SC_RETURN_IF_ERROR(file.Open());
  SC_RETURN_IF_ERROR(file.Write(text));
  return file.Commit();
}

absl::StatusOr<std::optional<double>> MaxRejected(const Args& args) {
  const auto it = args.options.find("max-rejected");
  if (it == args.options.end()) return std::optional<double>();
  double share;
  if (!absl::SimpleAtod(it->second, &share) || !(share >= 0 && share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-rejected takes a share from 0 to 1, not \"", it->second, "\""));
  }
  return std::optional<double>(share);
}

int CheckRejected(std::optional<double> max, uint64_t rejected,
                  uint64_t accepted, int code) {
  const uint64_t steps = rejected + accepted;
  if (!max || rejected == 0) return code;
  const double share = static_cast<double>(rejected) / static_cast<double>(steps);
  if (share <= *max) return code;
  std::fprintf(stderr,
               "salescycle: %llu of %llu steps rejected (%.1f%%), more than "
               "--max-rejected %g allows\n",
               static_cast<unsigned long long>(rejected),
               static_cast<unsigned long long>(steps), 100 * share, *max);
  return code == kOk ? kRejected : code;
}

}  // namespace cli
}  // namespace salescycle
