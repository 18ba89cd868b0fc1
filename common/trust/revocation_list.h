// The driver and operator certificates revoked, as central records them in
// the compacted topic evnet.certificates.revoked (keyed by the certificate's
// SHA-256). Central keeps the list it writes (central/revocations.h); any
// other program that admits operators follows the topic with a
// RevocationFollower.
#ifndef EVNET_COMMON_TRUST_REVOCATION_LIST_H_
#define EVNET_COMMON_TRUST_REVOCATION_LIST_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_wake_list.h"
#include "common/trust/peer_identity.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

// Thread-safe; Check never blocks.
class RevocationList {
 public:
  // `reader` names who reads the topic, for the answer while it is read.
  explicit RevocationList(std::string reader) : reader_(std::move(reader)) {}

  void Add(const v1::RevokedCertificate& record);
  // Every record written so far is in: until then no certificate passes.
  void FinishRestore();
  bool restored() const;

  // OK unless the certificate was revoked; then PERMISSION_DENIED saying
  // when, by whom and why. UNAVAILABLE before FinishRestore: a certificate
  // revoked before a restart is not let in while the topic is being read.
  absl::Status Check(const PeerIdentity& holder) const;
  absl::Status Check(const std::string& certificate_sha256) const;

 private:
  const std::string reader_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, v1::RevokedCertificate> revoked_ ABSL_GUARDED_BY(mu_);
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads evnet.certificates.revoked from its start into a RevocationList on
// a thread of its own, and goes on following it: a revocation is in force
// here within a second or so of central recording it. Never fails to start:
// while Kafka cannot be read (away, or the topic not made or not granted
// yet) it tries again every second, with the list read so far in force.
// Stops and joins in its destructor.
class RevocationFollower {
 public:
  static std::unique_ptr<RevocationFollower> Start(const std::string& bootstrap_servers,
                                                   const std::string& client_id,
                                                   RevocationList& list);
  ~RevocationFollower();

 private:
  RevocationFollower(RevocationList& list, KafkaReaderOptions options)
      : list_(list), options_(std::move(options)) {}
  void Run();
  // Until stopped (OK) or the reader fails; clears `failing` once it reads.
  absl::Status Follow(KafkaReader& reader, bool& failing);

  RevocationList& list_;
  const KafkaReaderOptions options_;
  absl::Notification stop_;
  KafkaWakeList wake_;  // the reader's polls, woken when stop_ is set
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_TRUST_REVOCATION_LIST_H_
