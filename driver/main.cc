// driver: asks central for charges at CPs, from a file of CP ids (one per
// line) or typed at the prompt, and shows progress and tickets.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/kafka/kafka_conf.h"
#include "common/trust/peer_identity.h"
#include "common/trust/transport_security.h"
#include "driver/driver.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, driver_id, "", "who is charging, e.g. driver-alice (env DRIVER_ID)");
ABSL_FLAG(std::string, requests, "",
          "file with one CP id per line; without it, CP ids are read at the prompt "
          "(env DRIVER_REQUESTS)");
ABSL_FLAG(std::string, kafka_bootstrap, "127.0.0.1:9092", "Kafka brokers (env KAFKA_BOOTSTRAP)");
ABSL_FLAG(std::string, state_dir, "",
          "where the driver keeps its progress through the request file, a folder of this "
          "user's alone (env STATE_DIR); default ~/.local/state/evnet/drivers");
ABSL_FLAG(absl::Duration, pause, absl::Seconds(4),
          "pause after each outcome before the next request (env DRIVER_PAUSE)");

namespace evnet {
namespace {

absl::StatusOr<std::vector<std::string>> ReadRequests(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the request file ", path));
  std::vector<std::string> cp_ids;
  std::string line;
  while (std::getline(in, line)) {
    std::string id(absl::StripAsciiWhitespace(line));
    if (!id.empty() && id[0] != '#') cp_ids.push_back(id);
  }
  return cp_ids;
}

int Main() {
  DriverOptions options;
  options.driver_id = absl::GetFlag(FLAGS_driver_id);
  options.kafka_bootstrap = absl::GetFlag(FLAGS_kafka_bootstrap);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (options.state_dir.empty()) options.state_dir = DefaultStateDir("drivers");
  options.pause_between_requests = absl::GetFlag(FLAGS_pause);
  if (options.driver_id.empty()) {
    LOG(ERROR) << "who is driving? set --driver_id or DRIVER_ID (e.g. driver-alice)";
    return 2;
  }
  std::vector<std::string> cp_ids;
  const std::string file = absl::GetFlag(FLAGS_requests);
  if (!file.empty()) {
    absl::StatusOr<std::vector<std::string>> read = ReadRequests(file);
    if (!read.ok()) {
      LOG(ERROR) << read.status().message();
      return 2;
    }
    cp_ids = *std::move(read);
  }
  // A driver proves who it is to Kafka with its own certificate.
  absl::StatusOr<TransportSecurity> security = TransportSecurityFromFlags(options.driver_id);
  if (!security.ok()) {
    LOG(ERROR) << options.driver_id << " | " << security.status().message();
    return 2;
  }
  if (!security->insecure) {
    absl::Status own = CheckOwnCertificate(security->cert_file, kRoleDriver, options.driver_id);
    if (!own.ok()) {
      LOG(ERROR) << options.driver_id << " | " << own.message();
      return 2;
    }
    ConfigureKafkaTls({security->ca_file, security->cert_file, security->key_file},
                      options.driver_id);
    options.cert_file = security->cert_file;
    options.key_file = security->key_file;
  }

  // Kafka may be away for a while (a restart): wait for it, saying so once.
  absl::StatusOr<std::unique_ptr<Driver>> driver = Driver::Start(options, std::cout);
  for (int attempt = 0; absl::IsUnavailable(driver.status()) && attempt < 120; ++attempt) {
    if (attempt == 0) {
      LOG(WARNING) << options.driver_id << " | " << driver.status().message()
                   << "; waiting for Kafka";
    }
    absl::SleepFor(absl::Seconds(1));
    driver = Driver::Start(options, std::cout);
  }
  if (!driver.ok()) {
    LOG(ERROR) << options.driver_id << " | cannot start: " << driver.status().message();
    return 1;
  }
  std::thread signals([&driver] {
    const int signal = WaitForShutdownSignal();
    VLOG(1) << "signal " << signal;
    (*driver)->Cancel();
  });
  absl::Status done;
  if (!file.empty()) {
    done = (*driver)->RunFile(cp_ids);
  } else {
    std::string line;
    std::cout << "CP id> " << std::flush;
    while (std::getline(std::cin, line)) {
      std::string id(absl::StripAsciiWhitespace(line));
      if (!id.empty()) {
        absl::Status charged = (*driver)->Charge(id);
        if (!charged.ok()) std::cout << charged.message() << "\n";
      }
      std::cout << "CP id> " << std::flush;
    }
  }
  if (!done.ok()) LOG(WARNING) << options.driver_id << " | stopped: " << done.message();
  // The signal thread waits for a signal: send ourselves one to end it.
  kill(getpid(), SIGTERM);
  signals.join();
  return done.ok() || absl::IsCancelled(done) ? 0 : 1;
}

}  // namespace
}  // namespace evnet

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "driver: asks an evnet network for charges",
                     evnet::WithTransportSecurityEnv({{"driver_id", "DRIVER_ID"},
                                                      {"requests", "DRIVER_REQUESTS"},
                                                      {"kafka_bootstrap", "KAFKA_BOOTSTRAP"},
                                                      {"state_dir", "STATE_DIR"},
                                                      {"pause", "DRIVER_PAUSE"}}));
  return evnet::Main();
}
