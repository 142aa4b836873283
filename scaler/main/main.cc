// jetstream-scaler: parse configuration, start the server, wait for a signal.
#include <grpc/support/log.h>
#include <nats/nats.h>
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "jss/app/config.h"
#include "jss/core/trigger/metadata.h"
#include "jss/server/server.h"
#include "shutdown_watchdog.h"

namespace {

// gRPC core logs through a C callback; this is the one logger it reaches,
// so its lines (TLS handshake failures, ...) come out in our format, JSON
// included. Held for the whole process: gRPC may log during its own exit.
jss::logging::Logger* grpc_core_logger = nullptr;

void LogFromGrpcCore(gpr_log_func_args* args) {
  if (grpc_core_logger == nullptr || args == nullptr || args->message == nullptr) return;
  const std::string where = std::string(args->file != nullptr ? args->file : "?") + ":" +
                            std::to_string(args->line);
  const std::initializer_list<jss::logging::Field> fields = {{"source", "grpc"},
                                                             {"detail", args->message},
                                                             {"at", where}};
  // gRPC's ERROR lines are mostly about one peer (a failed handshake); they
  // do not mean the scaler is broken, so they are warnings here.
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    grpc_core_logger->Warn("grpc core", fields);
  } else {
    grpc_core_logger->Debug("grpc core", fields);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals before any thread exists so that every thread
  // inherits the mask and only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto config = jss::app::ParseConfig(args, jss::app::Environment::Process());
  if (!config.ok()) {
    std::cerr << "jetstream-scaler: " << config.status().message() << "\n";
    return 2;
  }
  switch (config->action) {
    case jss::app::Action::kHelp:
      std::cout << jss::app::HelpText();
      return 0;
    case jss::app::Action::kVersion:
      std::cout << jss::app::VersionText() << "\n";
      return 0;
    case jss::app::Action::kPrintMetadataKeys:
      for (const auto& field : jss::core::MetadataFields()) std::cout << field.key << "\n";
      return 0;
    case jss::app::Action::kRun:
      break;
  }

  auto logger = jss::logging::Logger::ToStderr(
      // ParseConfig accepted only kLevelNames, so the level is always there.
      jss::logging::LevelFromName(config->log_level).value_or(spdlog::level::info),
      config->log_format == "json" ? jss::logging::Format::kJson : jss::logging::Format::kText);
  grpc_core_logger = new jss::logging::Logger(*logger);  // never freed, see above
  gpr_set_log_function(&LogFromGrpcCore);
  if (natsStatus s = nats_Open(-1); s != NATS_OK) {
    logger->Error("cannot initialise the NATS library", {{"error", natsStatus_GetText(s)}});
    return 1;
  }
  // From here on a signal ends the process within --shutdown-timeout, whatever hangs.
  jss::main::ShutdownWatchdog watchdog(signals, config->shutdown_timeout, logger);
  int exit_code = 0;
  {
    auto server = jss::server::Server::Start(*config, logger);
    if (!server.ok()) {
      logger->Error("cannot start", {{"error", server.status().message()}});
      std::cerr << "jetstream-scaler: " << server.status().message() << "\n";
      exit_code = 1;
    } else {
      const char* sig = watchdog.AwaitSignal();
      logger->Info("signal received; draining", {{"signal", sig}});
      (*server)->Stop();
    }
  }
  nats_Close();
  watchdog.Done();
  return exit_code;
}
