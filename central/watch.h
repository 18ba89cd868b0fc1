// WatchChargingPoints, served with gRPC's callback API: every CP once, then
// each CP again when something a person would see changed. One write is in
// flight at a time and what changed meanwhile is coalesced: a watcher gets
// each CP's latest state, never a backlog of its past ones, and a slow
// watcher costs central a cursor, not a queue.
#ifndef EVNET_CENTRAL_WATCH_H_
#define EVNET_CENTRAL_WATCH_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "central/registry.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet {

class WatchReactor;

// The open watches; the registry's change listener pokes them all.
class Watchers {
 public:
  explicit Watchers(Registry& registry) : registry_(registry) {}
  ~Watchers();

  // A watch by the holder of the certificate `certificate_sha256` (empty
  // where peers have no certificates).
  grpc::ServerWriteReactor<v1::ChargingPoint>* Start(grpc::CallbackServerContext* context,
                                                     std::string certificate_sha256 = "");
  // Something changed: each watcher without a write in flight sends it.
  void Poke();
  // Ends every watch (at shutdown).
  void CloseAll();
  // Ends, with `status`, every watch held with that certificate (revoked).
  // How many there were.
  int CloseHeldWith(const std::string& certificate_sha256, const grpc::Status& status);

 private:
  friend class WatchReactor;
  void Remove(WatchReactor* reactor);

  Registry& registry_;
  absl::Mutex mu_;
  std::set<WatchReactor*> open_ ABSL_GUARDED_BY(mu_);
};

class WatchReactor final : public grpc::ServerWriteReactor<v1::ChargingPoint> {
 public:
  WatchReactor(Registry& registry, Watchers& watchers, std::string certificate_sha256)
      : registry_(registry), watchers_(watchers), certificate_sha256_(std::move(certificate_sha256)) {}

  // Sends the next change if no write is in flight.
  void Poke();
  // Ends the watch with `status` once no write is in flight.
  void Close(const grpc::Status& status = grpc::Status::OK);
  const std::string& certificate_sha256() const { return certificate_sha256_; }

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Registry& registry_;
  Watchers& watchers_;
  const std::string certificate_sha256_;
  absl::Mutex mu_;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);  // how Close ends it
  uint64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;  // changes up to here are sent
  v1::ChargingPoint out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;   // no more writes
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_WATCH_H_
