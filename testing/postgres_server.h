// A real PostgreSQL server for system tests, as kafka_broker.h is a real
// broker: Debian's `postgresql` made into a fresh cluster (initdb) and run
// on a free loopback port, stopped and its files removed at the end. It can
// be stopped (a database that is down) and started again on the same data.
//
// PostgreSQL refuses to run as root: a test running as root runs it as the
// `postgres` user Debian's package makes, with its files in /tmp (root's
// test directories are not that user's to read).
#ifndef EVNET_TESTING_POSTGRES_SERVER_H_
#define EVNET_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/process.h"

namespace evnet::test {

class PostgresServer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  // A new, empty database of the server's; its connection URI.
  [[nodiscard]] absl::StatusOr<std::string> CreateDatabase(const std::string& name);
  // The URI of database `name` (made or not).
  std::string Uri(const std::string& name) const;

  // Down, as an operator stops it (fast shutdown); its data is kept.
  [[nodiscard]] absl::Status Stop();
  // Up again on the same port and data, answering.
  [[nodiscard]] absl::Status Restart();
  std::string LogTail() const;

 private:
  PostgresServer() = default;
  absl::Status Launch();
  // Runs a PostgreSQL program to its end, as the server's user.
  absl::Status RunAsOwner(const std::string& program, const std::vector<std::string>& args);
  std::vector<std::string> AsOwner(std::vector<std::string> argv) const;

  std::string bin_dir_;   // Debian's /usr/lib/postgresql/<version>/bin
  std::string dir_;       // the cluster and its socket
  bool as_postgres_ = false;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace evnet::test

#endif  // EVNET_TESTING_POSTGRES_SERVER_H_
