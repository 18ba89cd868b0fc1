// MonitorUplink against a real server on a loopback port that ends every
// call as soon as it has read the registration, while another thread keeps
// writing reports: as a monitor does when central restarts under it.
#include "common/grpc/monitor_uplink.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_server.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

// Reads the registration, then hangs up.
class HangingUpCentral final : public v1::CentralService::Service {
 public:
  grpc::Status MonitorLink(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::CentralCommand, v1::MonitorMessage>* stream) override {
    v1::MonitorMessage hello;
    if (stream->Read(&hello)) calls_.fetch_add(1);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "central going away");
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

// A link's holder as the monitors are: writes under its lock, forgets the
// link in on_done under the same lock, and links again at once.
class Holder {
 public:
  explicit Holder(v1::CentralService::Stub* stub) : stub_(stub) {}

  void Link() {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    v1::MonitorMessage hello;
    hello.mutable_register_()->set_cp_id("CP-1");
    link_ = MonitorUplink::Start(
        stub_, hello,
        {[](MonitorUplink&, const v1::CentralCommand&) {},
         [this](MonitorUplink* link, const grpc::Status& status) {
           {
             absl::MutexLock lock(&mu_);
             if (link_ == link) link_ = nullptr;
             ++ended_;
             last_ = status;
           }
         }});
  }
  void Report() {
    absl::MutexLock lock(&mu_);
    if (link_ == nullptr) return;
    v1::MonitorMessage health;
    health.mutable_health()->set_engine_ok(true);
    link_->Write(health);
  }
  bool Linked() {
    absl::MutexLock lock(&mu_);
    return link_ != nullptr;
  }
  int ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  grpc::Status last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  void StopAndWait() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (link_ != nullptr) link_->Cancel();
    auto unlinked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return link_ == nullptr; };
    mu_.AwaitWithTimeout(absl::Condition(&unlinked), absl::Seconds(10));
  }

 private:
  v1::CentralService::Stub* const stub_;
  absl::Mutex mu_;
  MonitorUplink* link_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status last_ ABSL_GUARDED_BY(mu_);
};

TEST(MonitorUplinkTest, ReportsWrittenWhileCentralHangsUpNeverTouchAFinishedCall) {
  HangingUpCentral central;
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  options.services = {&central};
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::shared_ptr<grpc::Channel> channel = MakeCentralChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), TransportSecurity::Insecure());
  std::unique_ptr<v1::CentralService::Stub> stub = v1::CentralService::NewStub(channel);

  Holder holder(stub.get());
  absl::Notification stop;
  // Reports as fast as they go, from two threads, while links come and go.
  std::vector<std::thread> reporters;
  for (int t = 0; t < 2; ++t) {
    reporters.emplace_back([&] {
      while (!stop.HasBeenNotified()) holder.Report();
    });
  }
  constexpr int kLinks = 300;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (holder.ended() < kLinks && absl::Now() < deadline) {
    if (!holder.Linked()) holder.Link();
    std::this_thread::yield();
  }
  stop.Notify();
  for (std::thread& reporter : reporters) reporter.join();
  holder.StopAndWait();

  EXPECT_GE(holder.ended(), kLinks);
  EXPECT_GE(central.calls(), kLinks / 2);  // the links did reach central
  EXPECT_FALSE(holder.Linked());
}

}  // namespace
}  // namespace evnet
