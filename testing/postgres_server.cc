#include "testing/postgres_server.h"

#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "postgresql/libpq-fe.h"  // Debian's libpq-dev

namespace evnet::test {
namespace {

constexpr absl::Duration kUpWithin = absl::Seconds(60);

// Debian's server programs, of the newest version installed.
absl::StatusOr<std::string> BinDir() {
  glob_t found;
  std::vector<std::string> dirs;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) {
      dirs.push_back(std::filesystem::path(found.gl_pathv[i]).parent_path());
    }
  }
  globfree(&found);
  if (dirs.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL's server is not installed (/usr/lib/postgresql/*/bin/postgres); "
        "tools/ev setup installs Debian's postgresql");
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs.back();
}

bool ValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  absl::StatusOr<std::string> bin = BinDir();
  if (!bin.ok()) return bin.status();
  server->bin_dir_ = *bin;
  server->as_postgres_ = geteuid() == 0;
  if (server->as_postgres_) {
    const passwd* owner = getpwnam("postgres");
    if (owner == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, and there is no `postgres` user to run PostgreSQL as");
    }
    char dir[] = "/tmp/evnet-postgres.XXXXXX";
    if (mkdtemp(dir) == nullptr || chown(dir, owner->pw_uid, owner->pw_gid) != 0) {
      return absl::InternalError("cannot make a directory for PostgreSQL in /tmp");
    }
    server->dir_ = dir;
  } else {
    server->dir_ = MakeTempDir("postgres");
  }
  if (absl::Status made = server->RunAsOwner(
          "initdb", {"-D", server->dir_ + "/data", "-U", "evnet", "--auth=trust", "--no-sync",
                     "-E", "UTF8", "--locale=C"});
      !made.ok()) {
    return made;
  }
  server->port_ = PickFreePort();
  if (absl::Status up = server->Launch(); !up.ok()) return up;
  return server;
}

PostgresServer::~PostgresServer() {
  (void)Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<std::string> PostgresServer::AsOwner(std::vector<std::string> argv) const {
  if (!as_postgres_) return argv;
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                      "--init-groups",    "--pdeathsig",       "KILL"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

absl::Status PostgresServer::RunAsOwner(const std::string& program,
                                        const std::vector<std::string>& args) {
  std::vector<std::string> argv = {absl::StrCat(bin_dir_, "/", program)};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.argv = AsOwner(std::move(argv));
  options.log_path = absl::StrCat(dir_, "/", program, ".log");
  absl::StatusOr<std::unique_ptr<Process>> run = Process::Start(std::move(options));
  if (!run.ok()) return run.status();
  absl::StatusOr<int> code = (*run)->Wait(kUpWithin);
  if (!code.ok() || *code != 0) {
    return absl::InternalError(absl::StrCat(program, " failed:\n", (*run)->LogTail()));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Launch() {
  ProcessOptions options;
  options.argv = AsOwner({absl::StrCat(bin_dir_, "/postgres"), "-D", dir_ + "/data", "-p",
                          absl::StrCat(port_), "-k", dir_, "-c",
                          "listen_addresses=127.0.0.1"});
  options.log_path = dir_ + "/postgres.log";
  absl::StatusOr<std::unique_ptr<Process>> started = Process::Start(std::move(options));
  if (!started.ok()) return started.status();
  process_ = *std::move(started);
  const std::string uri = Uri("postgres");
  const absl::Time began = absl::Now();
  const bool up = WaitFor(
      [&] { return !process_->Running() || PQping(uri.c_str()) == PQPING_OK; }, kUpWithin);
  if (!up || !process_->Running()) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL did not start on port ", port_, ":\n", process_->LogTail()));
  }
  LOG(INFO) << "PostgreSQL up at 127.0.0.1:" << port_ << " in "
            << absl::FormatDuration(absl::Now() - began);
  return absl::OkStatus();
}

std::string PostgresServer::Uri(const std::string& name) const {
  return absl::StrCat("postgresql://evnet@127.0.0.1:", port_, "/", name);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  if (!ValidName(name)) return absl::InvalidArgumentError(absl::StrCat("database name ", name));
  PGconn* conn = PQconnectdb(Uri("postgres").c_str());
  PGresult* made = PQexec(conn, absl::StrCat("CREATE DATABASE ", name).c_str());
  const bool ok = PQresultStatus(made) == PGRES_COMMAND_OK;
  const std::string why = PQerrorMessage(conn);
  PQclear(made);
  PQfinish(conn);
  if (!ok) return absl::InternalError(absl::StrCat("CREATE DATABASE ", name, ": ", why));
  return Uri(name);
}

absl::Status PostgresServer::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  absl::Status signalled = process_->Signal(SIGINT);  // fast shutdown
  absl::StatusOr<int> ended = process_->Wait(absl::Seconds(30));
  if (!signalled.ok() || !ended.ok()) process_->Kill();
  process_.reset();
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  if (absl::Status stopped = Stop(); !stopped.ok()) return stopped;
  return Launch();
}

std::string PostgresServer::LogTail() const {
  return process_ != nullptr ? process_->LogTail() : "";
}

}  // namespace evnet::test
