// Fuzzes central's HTTP side (the dashboard, its operator actions, the
// probes and /metrics) with raw bytes as a browser or anyone on the network
// could send them: the real routes on cpp-httplib's request parser, fed from
// memory instead of a socket. Three CPs are known, one operator may log in;
// the dashboard's folder holds index.html, and a file beside that folder
// must never be served.
//
// Properties, beyond "no crash, no sanitizer report, no hang":
//  - every request gets an HTTP/1.1 answer or the connection is dropped;
//  - nothing outside the dashboard's folder is ever served.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "central/central_core.h"
#include "central/fakes.h"
#include "central/central_service.h"
#include "central/coordinator.h"
#include "central/http_server.h"
#include "central/link_hub.h"
#include "central/metrics.h"
#include "central/operator_auth.h"
#include "central/registry.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "httplib.h"

namespace evnet {
namespace {

// One operator, "fuzzop" with password "fuzz-password" (1,000 iterations,
// so that a login is cheap to fuzz). The seeds carry a session of this file,
// valid until 2100: evnet_session=fuzzop.4102444800.6074dce8cd3453a772f6d11b4eee06ba460aa929176b615f32a0301bd4d840be
// and its CSRF token 56e7c1fd322737cde13852995c82407682fda231b5e643b3c6d02d4cc3773565.
constexpr char kOperators[] =
    "fuzzop:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0f:93fedf7365a8351fb04499759ca8bca935d3aad55a15e1501b2ff0e652960a39\n";

// With a raw quote and newline, which every answer that quotes the request
// escapes: only serving the file itself can put this in an answer.
constexpr char kSecret[] = "evnet\"\n\"secret beside the dashboard";

void Require(bool holds, const std::string& what) {
  if (holds) return;
  std::fprintf(stderr, "property broken: %s\n", what.c_str());
  std::abort();
}

// A connection whose request is the fuzzer's input and whose response is
// kept; it stops accepting writes past a bound, as a client that went away.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(const uint8_t* data, size_t size)
      : in_(reinterpret_cast<const char*>(data), size) {}
  bool is_readable() const override { return read_ < in_.size(); }
  bool is_writable() const override { return out_.size() < kMaxOut; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - read_);
    std::memcpy(ptr, in_.data() + read_, n);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (out_.size() >= kMaxOut) return -1;
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "192.0.2.7";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& out() const { return out_; }

 private:
  static constexpr size_t kMaxOut = 1 << 16;
  const std::string in_;
  size_t read_ = 0;
  std::string out_;
};

class FuzzServer : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

// No CP is connected to this central: every command fails as a lost link would.
FakeCommandSender Unconnected() {
  FakeCommandSender sender;
  sender.status = absl::UnavailableError("no CP is connected");
  return sender;
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

// Central with its HTTP routes, built once for the whole run.
class Central {
 public:
  Central()
      : core_({absl::Seconds(3), absl::Seconds(10), {}, /*insecure=*/true, &clock_},
              {updates_, store_, store_, store_,
               [](const v1::RevokedCertificate&, Done done) { done(absl::OkStatus()); }, audit_,
               &sender_}) {
    registry_.FinishRestore();
    coordinator_.FinishRestore();
    for (const char* id : {"CP-001", "CP-002", "CP-003"}) {
      v1::ChargingPointInfo info;
      info.set_cp_id(id);
      info.set_location("Alicante <script>");
      (void)registry_.Register(info);
    }
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string root =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evnet-http-fuzz-", getpid());
    mkdir(root.c_str(), 0755);
    mkdir((root + "/dashboard").c_str(), 0755);
    WriteFile(root + "/dashboard/index.html", "<html>evnet</html>");
    WriteFile(root + "/secret.txt", kSecret);

    HttpServerOptions options;
    options.static_dir = root + "/dashboard";
    options.ready = [] { return true; };
    options.metrics = [] { return std::string("evnet_up 1\n"); };
    options.stream_min_interval = absl::ZeroDuration();
    options.stream_heartbeat = absl::ZeroDuration();
    auth_ = *OperatorAuth::FromText(kOperators, std::string(32, 'k'));
    options.auth = auth_.get();
    auto server = std::make_unique<FuzzServer>();
    server_ = server.get();
    http_ = HttpServer::Unbound(options, registry_, service_, events_, std::move(server));
  }

  void Serve(const uint8_t* data, size_t size) {
    MemoryStream stream(data, size);
    bool closed = false;
    server_->process_request(stream, /*close_connection=*/true, closed, nullptr);
    const std::string& out = stream.out();
    Require(out.empty() || out.rfind("HTTP/1.1 ", 0) == 0, "an answer that is not HTTP/1.1");
    Require(out.find(kSecret) == std::string::npos,
            "a file outside the dashboard's folder was served");
  }

 private:
  FakeClock clock_;
  FakeCommandSender sender_ = Unconnected();
  FakeUpdatePublisher updates_;
  FakeStore store_;
  MemoryAuditLog audit_;
  CentralCore core_;
  Registry& registry_ = core_.registry;
  SessionCoordinator& coordinator_ = core_.coordinator;
  CentralServiceImpl& service_ = core_.service;
  EventFeed events_;
  std::unique_ptr<OperatorAuth> auth_;
  FuzzServer* server_ = nullptr;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace
}  // namespace evnet

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_minloglevel = 3;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static evnet::Central* central = new evnet::Central();  // lives for the run
  central->Serve(data, size);
  return 0;
}
