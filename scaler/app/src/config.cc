#include "jss/app/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/policy/connection_selector.h"
#include "jss/core/trigger/duration.h"
#include "jss/logging/logger.h"

namespace jss::app {
namespace {

using std::chrono::milliseconds;

// Every flag error reads "--flag: why"; CLI11's validation errors have the
// same shape, so both kinds look alike to the user.
core::Status Bad(std::string_view flag, std::string_view why) {
  return core::InvalidArgumentError(fmt::format("--{}: {}", flag, why));
}

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
bool TakesValue(const CLI::Option& opt) { return opt.get_items_expected_max() > 0; }

// --nats-token-file -> nats-token: the flag refused on the command line whose
// environment variable holds the secret itself.
std::string SecretFlagFor(std::string_view file_flag) {
  return std::string(file_flag.substr(0, file_flag.size() - std::string_view("-file").size()));
}

std::string RangeText(core::DurationRange range) {
  return fmt::format("{}-{}", core::FormatDuration(range.min), core::FormatDuration(range.max));
}

// "help (range, default X)": what --help prints under a flag.
std::string Describe(std::string_view help, std::string_view default_text,
                     std::string_view range = {}) {
  std::string notes(range);
  if (!default_text.empty()) {
    notes += fmt::format("{}default {}", notes.empty() ? "" : ", ", default_text);
  }
  if (notes.empty()) return std::string(help);
  return fmt::format("{} ({})", help, notes);
}

std::string CheckHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  uint64_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !core::ParseUint64(std::string_view(address).substr(colon + 1), &port) || port > 65535) {
    return fmt::format("\"{}\" is not HOST:PORT (e.g. 0.0.0.0:6000)", address);
  }
  return "";
}

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

// The flags, in --help order, one function per group. A new flag is one line
// in its group (plus its Config member, whose initialiser is its default).
void DefineListenFlags(Flags& f, Config& c) {
  f.Address("grpc-address", &c.grpc_address,
            "where KEDA reaches the ExternalScaler gRPC service (port 0 = pick one)");
  f.Address("metrics-address", &c.metrics_address, "serves /metrics, /healthz and /readyz");
}

void DefineNatsFlags(Flags& f, Parsed& p) {
  f.List("nats-url", "[NAME=]URL[,URL...]", &p.nats_urls,
         "NATS server(s). Repeat for more. NAME=URL makes a named connection that trigger "
         "metadata `connection` (or a declared `account`) selects; unnamed URLs form the "
         "default connection. In the environment variable, separate entries with spaces");
  f.List("nats-account", "CONNECTION=ACCOUNT[,ACCOUNT...]", &p.nats_accounts,
         "NATS accounts a connection's credentials act in (CONNECTION is a --nats-url NAME or "
         "\"default\"); trigger metadata `account` naming one selects that connection, which "
         "then refuses other accounts. Repeatable, one connection per entry; an account may "
         "belong to one connection only");
  // NATS authentication and TLS. NAME= sets one for that named connection
  // only; without it, it applies to every connection without its own value.
  f.PerConnection("nats-creds", "FILE", &NatsAuth::creds_file,
                  "NATS credentials file (JWT + nkey seed)");
  f.PerConnection("nats-nkey", "PUBLIC_KEY", &NatsAuth::nkey,
                  "NATS nkey user (public key, U...); the seed comes from --nats-nkey-seed-file");
  f.PerConnection("nats-nkey-seed-file", "FILE", &NatsAuth::nkey_seed_file,
                  "file holding the nkey seed (SU...)");
  f.SecretFile("nats-token-file", &NatsAuth::token,
               "file holding the NATS token (or set JETSTREAM_SCALER_NATS_TOKEN)");
  f.PerConnection("nats-user", "USER", &NatsAuth::user, "NATS user name");
  f.SecretFile("nats-password-file", &NatsAuth::password,
               "file holding the NATS password (or set JETSTREAM_SCALER_NATS_PASSWORD)");
  f.PerConnection("nats-tls-ca", "FILE", &NatsAuth::tls_ca_file,
                  "CA bundle to verify the NATS server");
  f.PerConnection("nats-tls-cert", "FILE", &NatsAuth::tls_cert_file,
                  "client certificate for NATS mTLS");
  f.PerConnection("nats-tls-key", "FILE", &NatsAuth::tls_key_file, "client key for NATS mTLS");
  f.PerConnection("nats-js-domain", "DOMAIN", &NatsAuth::js_domain,
                  "JetStream domain the connection reads: requests go to $JS.<DOMAIN>.API (e.g. "
                  "the hub's domain from a leaf node); default: the connected server's own");
}

void DefineGrpcFlags(Flags& f, Config& c) {
  f.Text("grpc-tls-cert", "FILE", &c.grpc_tls_cert_file,
         "serve gRPC over TLS with this certificate");
  f.Text("grpc-tls-key", "FILE", &c.grpc_tls_key_file, "private key for --grpc-tls-cert");
  f.Text("grpc-tls-client-ca", "FILE", &c.grpc_tls_client_ca_file,
         "require client certificates signed by this CA (mTLS; KEDA's tlsClientCert)");
  f.List("grpc-tls-client-name", "NAME", &c.grpc_tls_client_names,
         "with --grpc-tls-client-ca: accept only client certificates with this name as CN, "
         "DNS or URI SAN (repeat for more); any certificate of the CA otherwise");
  f.DurationOrOff("grpc-max-connection-age", &c.grpc_max_connection_age,
                  {std::chrono::seconds(1), std::chrono::hours(24)},
                  "recycle each gRPC connection (GOAWAY, +-10% jitter) after about this long, so "
                  "KEDA re-resolves and leaves a replica that lost NATS; open streams end with "
                  "OK first");
  f.DurationOrOff("grpc-keepalive-time", &c.grpc_keepalive_time,
                  {std::chrono::seconds(10), std::chrono::hours(2)},
                  "ping a quiet gRPC connection this often; no answer within 20s closes it");
  f.DurationOrOff("grpc-goaway-after-nats-down", &c.grpc_goaway_after_nats_down,
                  {std::chrono::seconds(1), std::chrono::hours(1)},
                  "once every NATS connection has been unusable this long, end open streams "
                  "with OK and let every gRPC connection go (GOAWAY) so KEDA reconnects, "
                  "through the Service, to a ready replica; repeated at most this often while "
                  "NATS stays down");
  f.Duration("shutdown-timeout", &c.shutdown_timeout,
             {std::chrono::seconds(1), std::chrono::minutes(5)},
             "after SIGTERM the process exits within this long, drained or not (keep it below "
             "the pod's terminationGracePeriodSeconds)");
  f.OneOf("ready-when", "MODE", &c.ready_when, std::array<std::string_view, 2>{"any", "all"},
          "/readyz and gRPC health: ready while any NATS connection is usable, or only while "
          "all are");
}

// Who may read what, how reads and pushes are paced, and the limits that bound them.
void DefineReadFlags(Flags& f, Config& c) {
  f.Text("policy-file", "FILE", &c.policy_file,
         "JSON access policy: which Kubernetes namespaces may read which consumers (default: "
         "all may; see docs/security.md)");
  f.Duration("reload-interval", &c.reload_interval, {std::chrono::seconds(1), std::chrono::hours(1)},
             "how often --policy-file and the gRPC TLS files are checked for changes");
  f.Duration("request-timeout", &c.request_timeout,
             {milliseconds(10), std::chrono::minutes(5)},
             "upper bound for one NATS read; KEDA's own deadline shortens it");
  f.Duration("nats-ping-interval", &c.nats_ping_interval, core::kNatsPingIntervalRange,
             "ask a quiet NATS connection for a PONG this often; one unanswered (within "
             "--request-timeout, at most 2s) marks it not ready and fails reads at once");
  f.Duration("lag-cache-ttl", &c.lag_cache_ttl, {milliseconds(0), std::chrono::minutes(10)},
             "reuse a consumer's lag for this long across callers (0 disables reuse)");
  f.Duration("push-interval", &c.push_interval, core::kPushIntervalRange,
             "StreamIsActive (external-push): how often a watched consumer is re-read when the "
             "trigger sets no pushInterval");
  f.Bool("push-wakeup", &c.push_wakeup,
         "StreamIsActive: while a watched consumer is idle, subscribe to its subjects so the "
         "first publish is pushed at once (needs subscribe permission; polling remains)");
  f.Duration("push-idle-resync", &c.push_idle_resync,
             {std::chrono::seconds(1), std::chrono::hours(1)},
             "StreamIsActive: how often an idle watched consumer whose wake-up is live is "
             "re-read anyway (jittered)");
  f.Count("push-read-rate", &c.push_read_rate, 0, 1000000,
          "StreamIsActive: JetStream API requests per second for push watchers (first reads "
          "when thousands of streams open at once, re-reads, wake-up set-ups); 0 = unlimited");
  f.Count("push-max-wakeup-subjects", &c.push_max_wakeup_subjects, 1, 100000,
          "StreamIsActive: a consumer whose filter (or, without one, whose stream) has more "
          "subjects than this gets no wake-up subscriptions and is polled every pushInterval "
          "instead (each wake-up re-subscribes every subject)");
  f.Count("max-inflight-requests", &c.max_in_flight, 1, 1000000,
          "JetStream API requests in flight per connection before new ones are refused");
  f.Address("probe-address", &c.probe_address,
            "also serve /healthz and /readyz here, on workers of their own, so clients of "
            "--metrics-address cannot starve the probes (the chart uses :8081)");
  f.Count("metrics-max-series", &c.metrics_max_series, 0, 10000000,
          "series per metric family labelled with stream, consumer or namespace names; beyond "
          "it names are counted in metric_series_dropped_total; 0 omits names altogether");
  f.Count("max-streams", &c.max_streams, 1, 1000000,
          "open StreamIsActive/StreamMetricSpec streams in total before new ones get "
          "RESOURCE_EXHAUSTED (each costs ~23 KiB)");
  f.Count("max-streams-per-connection", &c.max_streams_per_connection, 1, 1000000,
          "open streams per client connection (KEDA uses one for all its ScaledObjects)");
  f.Duration("min-push-interval", &c.min_push_interval, core::kPushIntervalRange,
             "lowest pushInterval a trigger may ask for; a StreamIsActive stream asking for "
             "less ends with INVALID_ARGUMENT naming both");
}

void DefineOutputFlags(Flags& f, Config& c) {
  f.OneOf("log-level", "LEVEL", &c.log_level, logging::kLevelNames, "least severe level logged");
  f.OneOf("log-format", "FORMAT", &c.log_format, std::array<std::string_view, 2>{"text", "json"},
          "log line format");
  f.Switch("print-metadata-keys", Action::kPrintMetadataKeys, &c.action,
           "print the trigger metadata keys this scaler reads, one per line, and exit");
  f.Switch("help", Action::kHelp, &c.action, "show this help and exit");
  f.Switch("version", Action::kVersion, &c.action, "print the version and exit");
}

void DefineFlags(Flags& f, Parsed& p) {
  DefineListenFlags(f, p.config);
  DefineNatsFlags(f, p);
  DefineGrpcFlags(f, p.config);
  DefineReadFlags(f, p.config);
  DefineOutputFlags(f, p.config);
}

// --help: the flag and its value, then what it does, then its variable.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override {
    return "Usage: jetstream-scaler [flags]\n";
  }
  std::string make_option(const CLI::Option* opt, bool) const override {
    const bool takes_value = TakesValue(*opt);
    std::string out = fmt::format("  {}", opt->get_name());
    if (takes_value) out += fmt::format(" {}", opt->get_type_name());
    out += fmt::format("\n      {}", opt->get_description());
    if (takes_value) out += fmt::format("\n      env: {}", EnvVarFor(opt->get_name().substr(2)));
    return out + "\n";
  }
};

std::unique_ptr<CLI::App> NewApp() {
  auto app = std::make_unique<CLI::App>(
      "jetstream-scaler: a KEDA external scaler that reports NATS JetStream consumer lag,\n"
      "read with the JetStream API.\n",
      "jetstream-scaler");
  app->set_help_flag();  // --help is one of our switches (an Action)
  app->allow_extras();   // reported by CheckLeftovers in our words
  app->option_defaults()->group("Flags");
  app->formatter(std::make_shared<HelpFormatter>());
  app->footer(
      "Every flag can also be set with the environment variable shown; a flag on the\n"
      "command line wins.\n\n"
      "Secrets: JETSTREAM_SCALER_NATS_TOKEN and JETSTREAM_SCALER_NATS_PASSWORD are read from "
      "the\nenvironment only; they are never logged.");
  return app;
}

core::Status CheckLeftovers(const std::vector<std::string>& leftovers) {
  if (leftovers.empty()) return core::OkStatus();
  const std::string& first = leftovers.front();
  if (first.rfind("--", 0) == 0) {
    return core::InvalidArgumentError(
        fmt::format("unknown flag {} (see --help)", first.substr(0, first.find('='))));
  }
  return core::InvalidArgumentError(
      fmt::format("unexpected argument \"{}\"; flags start with -- (see --help)", first));
}

// CLI11's argument-count errors, reworded: "--flag: <what is wrong>".
std::string Reword(const CLI::ParseError& e, const CLI::App& app) {
  const std::string what = e.what();
  if (e.get_name() != "ArgumentMismatch") return what;
  std::string flag = what.substr(0, what.find_first_of(": "));
  if (flag.rfind("--", 0) != 0) flag = fmt::format("--{}", flag);  // FlagOverride drops the dashes
  if (what.find("required but received") != std::string::npos) {
    return fmt::format("{}: given more than once", flag);
  }
  if (what.find("flag override") != std::string::npos)
    return fmt::format("{}: takes no value", flag);
  if (const CLI::Option* opt = app.get_option_no_throw(flag)) {
    return fmt::format("{}: needs a value ({})", flag, opt->get_type_name());
  }
  return what;
}

bool ValidUrlScheme(std::string_view url) {
  for (std::string_view scheme : {"nats://", "tls://"}) {
    if (url.substr(0, scheme.size()) == scheme && url.size() > scheme.size()) return true;
  }
  return false;
}

bool ValidConnectionName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

core::Status AddNatsUrl(std::string_view entry, std::vector<core::ConnectionConfig>& out) {
  std::string name = "default";
  bool named = false;
  std::string_view urls = entry;
  const size_t eq = entry.find('=');
  const size_t scheme = entry.find("://");
  if (eq != std::string_view::npos && (scheme == std::string_view::npos || eq < scheme)) {
    name = std::string(entry.substr(0, eq));
    urls = entry.substr(eq + 1);
    named = true;
    if (!ValidConnectionName(name)) {
      return Bad(
          "nats-url",
          fmt::format("connection name \"{}\" must be 1-63 letters, digits, '-' or '_'", name));
    }
  }
  std::vector<std::string> servers;
  for (std::string_view url : core::SplitNonEmpty(urls, ',')) {
    url = core::TrimWhitespace(url);
    // Every message quotes a URL redacted: what a mistyped one carries
    // (user:password@, ?token=) is a secret all the same.
    if (!ValidUrlScheme(url)) {
      return Bad(
          "nats-url",
          fmt::format("\"{}\" is not a NATS URL (expected nats://HOST:PORT or tls://HOST:PORT)",
                      core::RedactUrl(url)));
    }
    // user:password@ or token@ in a URL would sit in the process list, the
    // pod spec and every log line that names the server.
    const std::string_view rest = url.substr(url.find("://") + 3);
    if (rest.substr(0, rest.find_first_of("/?#")).find('@') != std::string_view::npos) {
      return Bad("nats-url",
                 "credentials inside the URL are not accepted (they would show in the process "
                 "list and logs); use --nats-creds, --nats-token-file or --nats-user with "
                 "--nats-password-file");
    }
    // A NATS URL has no options: a query (?token=...) is not read by cnats,
    // only repeated by its errors, and may hold a secret like userinfo.
    if (rest.find_first_of("?#") != std::string_view::npos) {
      return Bad("nats-url",
                 fmt::format("\"{}\": a query or fragment (?... or #...) in a NATS URL is not "
                             "accepted (NATS URLs take no options, and one may hold a secret); "
                             "give NATS credentials with --nats-creds, --nats-token-file or "
                             "--nats-user with --nats-password-file",
                             core::RedactUrl(url)));
    }
    servers.emplace_back(url);
  }
  if (servers.empty()) return Bad("nats-url", "empty URL");
  for (auto& existing : out) {
    if (existing.name == name) {
      if (named || existing.named) {
        return Bad("nats-url", fmt::format("connection \"{}\" is given twice; list its servers in "
                                           "one entry separated by commas",
                                           name));
      }
      existing.servers.insert(existing.servers.end(), servers.begin(), servers.end());
      return core::OkStatus();
    }
  }
  out.push_back(core::ConnectionConfig{name, std::move(servers), named});
  return core::OkStatus();
}

// "NATS token" for --nats-token-file: what a secret file flag holds, in words.
std::string SecretWhat(std::string_view file_flag) {
  std::string secret = SecretFlagFor(file_flag);  // nats-token
  return fmt::format("NATS {}", secret.substr(secret.find('-') + 1));
}

std::string TrimSecret(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Reads a secret file named by `flag`; the content is trimmed and must not be empty.
core::StatusOr<std::string> ReadSecretFile(const Environment& env, const std::string& flag,
                                           const std::string& path) {
  auto content = env.read_file(path);
  if (!content.ok()) return Bad(flag, content.status().message());
  std::string secret = TrimSecret(*content);
  if (secret.empty()) return Bad(flag, fmt::format("the file \"{}\" is empty", path));
  return secret;
}

// A per-connection flag's value for NatsAuth: the secret read from the file
// it names, or the value itself.
core::StatusOr<std::string> AuthValue(const PerConnectionFlag& flag, const Environment& env,
                                      const std::string& value) {
  if (flag.secret_file) return ReadSecretFile(env, flag.name, value);
  return value;
}

// A NATS account name as --nats-account takes it: one token, bounded.
bool ValidAccountName(std::string_view account) {
  if (account.empty() || account.size() > 255) return false;
  for (char ch : account) {
    const auto uc = static_cast<unsigned char>(ch);
    if (uc <= ' ' || uc == 0x7f || ch == ',' || ch == '=') return false;
  }
  return true;
}

// --nats-account CONNECTION=ACCOUNT[,ACCOUNT...] into ConnectionConfig::accounts. An account
// belongs to one connection only, so `account` in a trigger never selects ambiguously.
core::Status ResolveAccounts(const std::vector<std::string>& entries,
                             std::vector<core::ConnectionConfig>& connections) {
  std::map<std::string, std::string> owner;  // account -> connection
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Bad("nats-account",
                 fmt::format("\"{}\" is not CONNECTION=ACCOUNT[,ACCOUNT...] (the unnamed "
                             "connection is \"default\")", entry));
    }
    const std::string name(core::TrimWhitespace(std::string_view(entry).substr(0, eq)));
    auto connection = std::find_if(connections.begin(), connections.end(),
                                   [&](const core::ConnectionConfig& c) { return c.name == name; });
    if (connection == connections.end() && name == "default") {
      return Bad("nats-account", "there is no unnamed connection to declare accounts for (every "
                                 "--nats-url is NAME=URL); use one of their names");
    }
    if (connection == connections.end()) {
      return Bad("nats-account",
                 fmt::format("no connection named \"{}\" (add --nats-url {}=URL, or use "
                             "\"default\" for the unnamed connection)", name, name));
    }
    if (!connection->accounts.empty()) {
      return Bad("nats-account", fmt::format("given more than once for connection \"{}\"; "
                                             "list its accounts in one entry, comma-separated",
                                             name));
    }
    for (std::string_view raw : core::SplitNonEmpty(std::string_view(entry).substr(eq + 1), ',')) {
      const std::string_view account = core::TrimWhitespace(raw);
      if (account.empty()) continue;
      if (!ValidAccountName(account)) {
        return Bad("nats-account",
                   fmt::format("\"{}\" is not an account name (1-255 characters, no spaces, "
                               "',', '=' or control characters)", core::Truncate(account)));
      }
      auto [it, inserted] = owner.emplace(std::string(account), name);
      if (!inserted) {
        return Bad("nats-account",
                   fmt::format("account \"{}\" is declared for connections \"{}\" and "
                               "\"{}\"; an account must select exactly one connection",
                               account, it->second, name));
      }
      connection->accounts.emplace_back(account);
    }
    if (connection->accounts.empty()) {
      return Bad("nats-account", fmt::format("\"{}\" names no account", entry));
    }
  }
  return core::OkStatus();
}

// One server in two connections is two users of one NATS system, which only
// makes sense when each declares the account it acts in (--nats-account):
// otherwise `natsUrl` selects whichever is listed first and the two differ in
// nothing a trigger can name. Runs after ResolveAccounts.
core::Status CheckSharedServers(const std::vector<core::ConnectionConfig>& connections) {
  for (size_t i = 0; i < connections.size(); ++i) {
    for (size_t j = i + 1; j < connections.size(); ++j) {
      const auto& a = connections[i];
      const auto& b = connections[j];
      if (!a.accounts.empty() && !b.accounts.empty()) continue;
      for (const auto& server : a.servers) {
        const bool shared = std::any_of(b.servers.begin(), b.servers.end(), [&](const auto& s) {
          return core::NormalizeNatsUrl(s) == core::NormalizeNatsUrl(server);
        });
        if (!shared) continue;
        return Bad("nats-url",
                   fmt::format("\"{}\" is in connections \"{}\" and \"{}\"; list a NATS "
                               "server in one connection only, or, for two users of one server, "
                               "declare each connection's account (--nats-account {}=ACCOUNT "
                               "--nats-account {}=ACCOUNT)",
                               core::RedactUrl(server), a.name, b.name, a.name, b.name));
      }
    }
  }
  return core::OkStatus();
}

// Pairs that only make sense together, checked per connection.
core::Status ValidateAuth(const NatsAuth& a, const std::string& connection) {
  const std::string where =
      connection == "default" ? std::string() : fmt::format(" (connection \"{}\")", connection);
  if (!a.password.empty() && a.user.empty()) {
    return Bad("nats-user", fmt::format("a NATS password was given without --nats-user{}", where));
  }
  if (a.tls_cert_file.empty() != a.tls_key_file.empty()) {
    return Bad("nats-tls-cert",
               fmt::format("--nats-tls-cert and --nats-tls-key go together{}", where));
  }
  // A seed is a secret: refused where the public key belongs, and not echoed.
  if (!a.nkey.empty() && a.nkey[0] == 'S') {
    return Bad(
        "nats-nkey",
        fmt::format("--nats-nkey takes the nkey's public key (U...), not its seed (S...){}; put "
                    "the seed in a file for --nats-nkey-seed-file and treat the seed as leaked",
                    where));
  }
  if (a.nkey.empty() != a.nkey_seed_file.empty()) {
    return Bad("nats-nkey",
               fmt::format("--nats-nkey and --nats-nkey-seed-file go together{}", where));
  }
  // A JetStream domain is one subject token of $JS.<domain>.API.
  bool domain_ok = a.js_domain.size() <= 64;
  for (char ch : a.js_domain) {
    domain_ok = domain_ok && ch != '.' && ch != '*' && ch != '>' &&
                static_cast<unsigned char>(ch) > ' ' && ch != 0x7f;
  }
  if (!domain_ok) {
    return Bad("nats-js-domain", fmt::format("\"{}\" is not a JetStream domain (1-64 characters, "
                                             "no '.', '*', '>', spaces or control characters){}",
                                             a.js_domain, where));
  }
  return core::OkStatus();
}

// Applies one per-connection flag: its plain value to `defaults`, its
// NAME=VALUE entries to `own` (only a configured connection name counts as a
// prefix, so a path that happens to contain '=' stays a path).
core::Status ResolvePerConnection(const PerConnectionFlag& flag, const Environment& env,
                                  const std::set<std::string>& named, NatsAuth& defaults,
                                  std::map<std::string, NatsAuth>& own,
                                  std::map<std::string, std::set<std::string>>& own_set) {
  std::vector<std::string> plain;
  for (const auto& v : flag.values) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos || !named.count(v.substr(0, eq))) {
      plain.push_back(v);
      continue;
    }
    const std::string connection = v.substr(0, eq);
    if (!own_set[connection].insert(flag.name).second) {
      return Bad(flag.name, fmt::format("given more than once for connection \"{}\"", connection));
    }
    if (eq + 1 == v.size()) return Bad(flag.name, fmt::format("\"{}\" has an empty value", v));
    auto value = AuthValue(flag, env, v.substr(eq + 1));
    if (!value.ok()) return value.status();
    own[connection].*flag.field = *value;
  }
  if (plain.size() > 1) {
    return Bad(flag.name, "given more than once; prefix NAME= to set it for a named connection");
  }
  if (plain.size() == 1) {
    if (plain[0].empty()) return Bad(flag.name, "must not be empty");
    if (flag.secret_file) {
      // Two sources for one secret: which one wins would be a guess.
      const std::string var = EnvVarFor(SecretFlagFor(flag.name));
      if (auto v = env.get_env(var); v.has_value() && !v->empty()) {
        return Bad(flag.name,
                   fmt::format("--{} (or {}) and {} both give the {}; keep one", flag.name,
                               EnvVarFor(flag.name), var, SecretWhat(flag.name)));
      }
    }
    auto value = AuthValue(flag, env, plain[0]);
    if (!value.ok()) return value.status();
    defaults.*flag.field = *value;
  } else if (flag.secret_file) {
    // The unprefixed secret may come straight from the environment.
    const std::string var = EnvVarFor(SecretFlagFor(flag.name));
    if (auto v = env.get_env(var); v.has_value() && !v->empty()) defaults.*flag.field = *v;
  }
  return core::OkStatus();
}

// Turns the raw per-connection values into Config::nats_auth: every
// connection starts from the plain values, then takes its own.
core::Status ResolveAuth(const Flags& flags, const Environment& env, Config& config) {
  std::set<std::string> named;
  for (const auto& c : config.connections) {
    if (c.named) named.insert(c.name);
  }
  std::map<std::string, NatsAuth> own;
  std::map<std::string, std::set<std::string>> own_set;  // which flags each connection set
  for (const auto& flag : flags.per_connection()) {
    if (core::Status s = ResolvePerConnection(*flag, env, named, config.nats_default_auth, own,
                                              own_set);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& c : config.connections) {
    NatsAuth a = config.nats_default_auth;
    for (const auto& flag : flags.per_connection()) {
      if (own_set[c.name].count(flag->name)) a.*flag->field = own[c.name].*flag->field;
    }
    if (core::Status s = ValidateAuth(a, c.name); !s.ok()) return s;
    config.nats_auth[c.name] = std::move(a);
  }
  return core::OkStatus();
}

}  // namespace

std::string EnvVarFor(const std::string& flag) {
  std::string out = "JETSTREAM_SCALER_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Environment Environment::Process() {
  Environment env;
  env.get_env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.read_file = [](const std::string& path) -> core::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::InvalidArgumentError(fmt::format("cannot read file \"{}\"", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return env;
}

core::StatusOr<Config> ParseConfig(const std::vector<std::string>& args, const Environment& env) {
  auto app = NewApp();
  Parsed parsed;
  Flags flags(*app);
  DefineFlags(flags, parsed);
  try {
    app->parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 pops from the back
    if (core::Status s = CheckLeftovers(app->remaining()); !s.ok()) return s;
    if (core::Status s = flags.CheckNoSecretsOnCommandLine(); !s.ok()) return s;
    if (parsed.config.action != Action::kRun) return parsed.config;
    if (core::Status s = flags.ApplyEnvironment(env); !s.ok()) return s;
  } catch (const CLI::ParseError& e) {
    return core::InvalidArgumentError(Reword(e, *app));
  }

  Config& config = parsed.config;
  for (const auto& entry : parsed.nats_urls) {
    if (core::Status s = AddNatsUrl(entry, config.connections); !s.ok()) return s;
  }
  if (core::Status s = ResolveAccounts(parsed.nats_accounts, config.connections); !s.ok()) {
    return s;
  }
  if (core::Status s = CheckSharedServers(config.connections); !s.ok()) return s;
  if (core::Status s = ResolveAuth(flags, env, config); !s.ok()) return s;
  if (config.grpc_tls_cert_file.empty() != config.grpc_tls_key_file.empty()) {
    return Bad("grpc-tls-cert", "--grpc-tls-cert and --grpc-tls-key go together");
  }
  if (!config.grpc_tls_client_ca_file.empty() && config.grpc_tls_cert_file.empty()) {
    return Bad("grpc-tls-client-ca", "client certificates need TLS: set --grpc-tls-cert/-key");
  }
  if (!config.grpc_tls_client_names.empty() && config.grpc_tls_client_ca_file.empty()) {
    return Bad("grpc-tls-client-name",
               "--grpc-tls-client-name checks client certificates: set --grpc-tls-client-ca");
  }
  return std::move(config);
}

std::string HelpText() {
  auto app = NewApp();
  Parsed parsed;
  Flags flags(*app);
  DefineFlags(flags, parsed);
  return app->help();
}

const char* BuildVersion() { return JSS_VERSION; }
const char* BuildRevision() { return JSS_REVISION; }

std::string VersionText() {
  return fmt::format("jetstream-scaler {} ({})", JSS_VERSION, JSS_REVISION);
}

}  // namespace jss::app
