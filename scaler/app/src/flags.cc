#include "flags.h"

#include <array>
#include <string>

#include "jss/logging/logger.h"

namespace jss::app::detail {

core::Status Bad(std::string_view flag, std::string_view why) {
  return core::InvalidArgumentError(fmt::format("--{}: {}", flag, why));
}

bool TakesValue(const CLI::Option& opt) { return opt.get_items_expected_max() > 0; }

std::string SecretFlagFor(std::string_view file_flag) {
  return std::string(file_flag.substr(0, file_flag.size() - std::string_view("-file").size()));
}

std::string RangeText(core::DurationRange range) {
  return fmt::format("{}-{}", core::FormatDuration(range.min), core::FormatDuration(range.max));
}

std::string Describe(std::string_view help, std::string_view default_text,
                     std::string_view range) {
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

namespace {

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

}  // namespace

void DefineFlags(Flags& f, Parsed& p) {
  DefineListenFlags(f, p.config);
  DefineNatsFlags(f, p);
  DefineGrpcFlags(f, p.config);
  DefineReadFlags(f, p.config);
  DefineOutputFlags(f, p.config);
}

namespace {

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

}  // namespace

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

}  // namespace jss::app::detail
