#pragma once

// Private to jss_app: registers the flags on a CLI11 app and formats --help.
// ParseConfig (config.cc) drives it; nats_connections.cc resolves the
// per-connection values it collects.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jss/app/config.h"
#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/trigger/duration.h"

namespace jss::app::detail {

using std::chrono::milliseconds;

// Every flag error reads "--flag: why"; CLI11's validation errors have the
// same shape, so both kinds look alike to the user.
core::Status Bad(std::string_view flag, std::string_view why);

// Stores one flag value in its Config member; returns why the value is bad,
// or "" once it is stored.
using Setter = std::function<std::string(const std::string&)>;

// A flag taking [NAME=]VALUE: a plain value is the default of every
// connection, NAME=VALUE belongs to that named connection only. The values
// stay raw until the connection names are known, so a path containing '='
// stays a path.
struct PerConnectionFlag {
  std::string name;
  std::string NatsAuth::*field;
  bool secret_file;  // VALUE names a file whose content is the secret
  std::vector<std::string> values;
};

// What the flags fill: the Config plus the raw values resolved afterwards.
struct Parsed {
  Config config;
  std::vector<std::string> nats_urls{kDefaultNatsUrl};
  std::vector<std::string> nats_accounts;  // CONNECTION=ACCOUNT[,ACCOUNT...]
};

// False for switches (--help), which have no value and no variable.
bool TakesValue(const CLI::Option& opt);

// --nats-token-file -> nats-token: the flag refused on the command line whose
// environment variable holds the secret itself.
std::string SecretFlagFor(std::string_view file_flag);

std::string RangeText(core::DurationRange range);

// "help (range, default X)": what --help prints under a flag.
std::string Describe(std::string_view help, std::string_view default_text,
                     std::string_view range = {});

std::string CheckHostPort(const std::string& address);

// Registers flags on a CLI11 app, one method per kind of value. The default
// --help shows is the target's value at registration (Config's member
// initialisers), so each default is written once. Every value flag can also
// come from its environment variable (EnvVarFor); the command line wins.
class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  // A non-empty string.
  void Text(const char* name, const char* value_name, std::string* target, const char* help) {
    Add(name, value_name, Describe(help, *target), [target](const std::string& v) {
      if (v.empty()) return std::string("must not be empty");
      *target = v;
      return std::string();
    });
  }

  void Address(const char* name, std::string* target, const char* help) {
    Add(name, "HOST:PORT", Describe(help, *target), [target](const std::string& v) {
      std::string why = CheckHostPort(v);
      if (why.empty()) *target = v;
      return why;
    });
  }

  template <typename Choices>
  void OneOf(const char* name, const char* value_name, std::string* target,
             const Choices& choices, const char* help) {
    const std::string list = fmt::format("{}", fmt::join(choices, ", "));
    Add(name, value_name, Describe(fmt::format("{}: {}", help, list), *target),
        [target, choices, list](const std::string& v) {
          for (std::string_view c : choices) {
            if (v == c) {
              *target = v;
              return std::string();
            }
          }
          return fmt::format("\"{}\" is not one of {}", v, list);
        });
  }

  void Duration(const char* name, milliseconds* target, core::DurationRange range,
                const char* help) {
    Add(name, "DURATION", Describe(help, core::FormatDuration(*target), RangeText(range)),
        [target, range](const std::string& v) {
          auto d = core::ParseDuration(v);
          if (!d.ok()) return d.status().message();
          if (!range.Contains(*d)) {
            return fmt::format("\"{}\" must be between {} and {}", v,
                               core::FormatDuration(range.min), core::FormatDuration(range.max));
          }
          *target = *d;
          return std::string();
        });
  }

  // 0 turns the feature off; anything else must lie in `range`.
  void DurationOrOff(const char* name, milliseconds* target, core::DurationRange range,
                     const char* help) {
    Add(name, "DURATION",
        Describe(help, core::FormatDuration(*target),
                 fmt::format("0 = off, else {}", RangeText(range))),
        [target, range](const std::string& v) {
          auto d = core::ParseDuration(v);
          if (!d.ok()) return d.status().message();
          if (d->count() != 0 && !range.Contains(*d)) {
            return fmt::format("\"{}\" must be 0 (off) or between {} and {}", v,
                               core::FormatDuration(range.min), core::FormatDuration(range.max));
          }
          *target = *d;
          return std::string();
        });
  }

  void Bool(const char* name, bool* target, const char* help) {
    Add(name, "true|false", Describe(help, *target ? "true" : "false"),
        [target](const std::string& v) {
          if (v != "true" && v != "false") return fmt::format("\"{}\" is not true or false", v);
          *target = v == "true";
          return std::string();
        });
  }

  void Count(const char* name, size_t* target, uint64_t min, uint64_t max, const char* help) {
    Add(name, "N", Describe(help, std::to_string(*target), fmt::format("{}-{}", min, max)),
        [target, min, max](const std::string& v) {
          uint64_t n = 0;
          if (!core::ParseUint64(v, &n) || n < min || n > max) {
            return fmt::format("\"{}\" must be a whole number from {} to {}", v, min, max);
          }
          *target = static_cast<size_t>(n);
          return std::string();
        });
  }

  // Repeatable; in the environment variable, entries are separated by spaces.
  void List(const char* name, const char* value_name, std::vector<std::string>* target,
            const char* help) {
    CLI::Option* opt = app_.add_option_function<std::vector<std::string>>(
        fmt::format("--{}", name), [target](const std::vector<std::string>& v) { *target = v; },
        Describe(help, fmt::format("{}", fmt::join(*target, " "))));
    opt->type_name(value_name)->allow_extra_args(false);
    lists_.insert(opt);
  }

  // Repeatable [NAME=]VALUE, resolved per connection (see PerConnectionFlag).
  void PerConnection(const char* name, const char* value_name, std::string NatsAuth::*field,
                     const char* help) {
    AddPerConnection(name, value_name, field, false, help);
  }

  // [NAME=]FILE holding a secret. The unprefixed secret may instead come from
  // the flag's environment variable without "_FILE"; the secret itself is
  // refused on the command line, where it would show in the process list.
  void SecretFile(const char* name, std::string NatsAuth::*field, const char* help) {
    AddPerConnection(name, "FILE", field, true, help);
    std::string secret_flag = SecretFlagFor(name);
    const CLI::Option* opt =
        app_.add_option(fmt::format("--{}", secret_flag))->expected(0, 1)->group("");
    rejected_.emplace_back(std::move(secret_flag), opt);
  }

  // A switch that selects what the binary does; the first registered wins.
  void Switch(const char* name, Action action, Action* target, const char* help) {
    app_.add_flag_callback(
            fmt::format("--{}", name),
            [action, target] {
              if (*target == Action::kRun || action < *target) *target = action;
            },
            help)
        ->disable_flag_override();
  }

  // The secrets flags given on the command line, to be refused.
  core::Status CheckNoSecretsOnCommandLine() const {
    for (const auto& [flag, opt] : rejected_) {
      if (opt->count() == 0) continue;
      return Bad(flag,
                 fmt::format("secrets are not accepted on the command line (they would show in the "
                             "process list); use --{}-file FILE or the {} environment variable",
                             flag, EnvVarFor(flag)));
    }
    return core::OkStatus();
  }

  // Fills the flags the command line left unset from their environment
  // variables, through the same CLI11 callbacks (and so the same checks).
  core::Status ApplyEnvironment(const Environment& env) {
    for (CLI::Option* opt : app_.get_options()) {
      if (opt->count() > 0 || !TakesValue(*opt) || opt->get_group().empty()) continue;
      const std::string var = EnvVarFor(opt->get_name().substr(2));
      auto value = env.get_env(var);
      if (!value.has_value()) continue;
      if (lists_.count(opt)) {
        const auto parts = core::SplitNonEmpty(*value, ' ');
        // Set but blank is a mistake (an unset Secret key, a templating
        // slip), not "use the default": JETSTREAM_SCALER_NATS_URL="" must
        // not quietly mean nats://127.0.0.1:4222.
        if (parts.empty()) {
          return core::InvalidArgumentError(fmt::format(
              "{} is set but empty: give it a value for {} or unset it", var, opt->get_name()));
        }
        for (std::string_view part : parts) opt->add_result(std::string(part));
      } else {
        opt->add_result(*value);
      }
      opt->run_callback();
    }
    return core::OkStatus();
  }

  const std::vector<std::unique_ptr<PerConnectionFlag>>& per_connection() const {
    return per_connection_;
  }

 private:
  void Add(const char* name, const char* value_name, std::string description, Setter set) {
    const std::string flag = fmt::format("--{}", name);
    app_.add_option_function<std::string>(
            flag,
            [flag, set = std::move(set)](const std::string& v) {
              if (std::string why = set(v); !why.empty()) throw CLI::ValidationError(flag, why);
            },
            std::move(description))
        ->type_name(value_name);
  }

  void AddPerConnection(const char* name, const char* value_name, std::string NatsAuth::*field,
                        bool secret_file, const char* help) {
    per_connection_.push_back(
        std::make_unique<PerConnectionFlag>(PerConnectionFlag{name, field, secret_file, {}}));
    PerConnectionFlag* raw = per_connection_.back().get();
    CLI::Option* opt = app_.add_option_function<std::vector<std::string>>(
        fmt::format("--{}", name), [raw](const std::vector<std::string>& v) { raw->values = v; },
        help);
    opt->type_name(fmt::format("[NAME=]{}", value_name))->allow_extra_args(false);
    lists_.insert(opt);
  }

  CLI::App& app_;
  std::set<const CLI::Option*> lists_;
  std::vector<std::unique_ptr<PerConnectionFlag>> per_connection_;
  std::vector<std::pair<std::string, const CLI::Option*>> rejected_;  // hidden: no get_name()
};

// Registers every flag on `f`, in --help order, filling `p`.
void DefineFlags(Flags& f, Parsed& p);

// The CLI11 app with our usage line, --help layout and footer.
std::unique_ptr<CLI::App> NewApp();

// Anything CLI11 did not consume (allow_extras), refused in our words.
core::Status CheckLeftovers(const std::vector<std::string>& leftovers);

// CLI11's argument-count errors, reworded: "--flag: <what is wrong>".
std::string Reword(const CLI::ParseError& e, const CLI::App& app);

}  // namespace jss::app::detail
