#include "common/trust/revocation_list.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "common/proto_time.h"
#include "glog/logging.h"

namespace evnet {

void RevocationList::Add(const v1::RevokedCertificate& record) {
  absl::MutexLock lock(&mu_);
  revoked_[record.certificate_sha256()] = record;
}

void RevocationList::FinishRestore() {
  absl::MutexLock lock(&mu_);
  restored_ = true;
}

bool RevocationList::restored() const {
  absl::MutexLock lock(&mu_);
  return restored_;
}

absl::Status RevocationList::Check(const PeerIdentity& holder) const {
  return Check(holder.certificate_sha256);
}

absl::Status RevocationList::Check(const std::string& certificate_sha256) const {
  absl::MutexLock lock(&mu_);
  if (!restored_) {
    return absl::UnavailableError(absl::StrCat(
        reader_, " is still reading the revoked certificates from Kafka; try again in a moment"));
  }
  auto it = revoked_.find(certificate_sha256);
  if (it == revoked_.end()) return absl::OkStatus();
  const v1::RevokedCertificate& r = it->second;
  return absl::PermissionDeniedError(absl::StrCat(
      "the certificate of ", r.holder(), " was revoked by ", r.revoked_by(), " at ",
      absl::FormatTime(absl::RFC3339_sec, FromProto(r.revoked_at()), absl::UTCTimeZone()),
      r.reason().empty() ? "" : absl::StrCat(": ", r.reason())));
}

std::unique_ptr<RevocationFollower> RevocationFollower::Start(const std::string& bootstrap_servers,
                                                              const std::string& client_id,
                                                              RevocationList& list) {
  KafkaReaderOptions options;
  options.bootstrap_servers = bootstrap_servers;
  options.client_id = client_id;
  options.partitions = {{kRevokedCertificatesTopic, 0}};
  std::unique_ptr<RevocationFollower> follower(new RevocationFollower(list, std::move(options)));
  follower->thread_ = std::thread([f = follower.get()] { f->Run(); });
  return follower;
}

RevocationFollower::~RevocationFollower() {
  stop_.Notify();
  wake_.WakeAll();
  if (thread_.joinable()) thread_.join();
}

absl::Status RevocationFollower::Follow(KafkaReader& reader, bool& failing) {
  const KafkaWakeList::Entry polling = wake_.Add(reader);
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<PollResult> polled =
        reader.Poll(absl::Milliseconds(200), [this](const KafkaMessage& m) {
          absl::StatusOr<v1::RevokedCertificate> record =
              FromJson<v1::RevokedCertificate>(m.value);
          if (!record.ok() || record->certificate_sha256().empty()) {
            LOG(WARNING) << "Skipped a record of " << kRevokedCertificatesTopic << " at offset "
                         << m.offset << " that is not a revocation: "
                         << (record.ok() ? "no certificate hash" : record.status().message());
            return absl::OkStatus();
          }
          list_.Add(*record);
          return absl::OkStatus();
        });
    if (!polled.ok()) return polled.status();
    if (failing && *polled != PollResult::kIdle) {
      LOG(INFO) << "Reading " << kRevokedCertificatesTopic << " again";
      failing = false;
    }
    if (*polled == PollResult::kEndOfPartition && !list_.restored()) {
      list_.FinishRestore();
      LOG(INFO) << "Read the revoked certificates of " << kRevokedCertificatesTopic;
    }
  }
  return absl::OkStatus();
}

void RevocationFollower::Run() {
  bool failing = false;
  while (!stop_.HasBeenNotified()) {
    // A reader of its own each time: the broker away at start, the topic not
    // made yet or not yet readable by this certificate are each retried with
    // a new one, from the topic's start (adding a revocation twice is no harm).
    absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options_);
    absl::Status ended = reader.ok() ? Follow(**reader, failing) : reader.status();
    if (ended.ok()) break;  // stopped
    if (!failing) {
      LOG(WARNING) << "Cannot read " << kRevokedCertificatesTopic << " (" << ended
                   << "); trying again every second"
                   << (list_.restored() ? ", with the revocations read so far in force"
                                        : "; operators are refused until it is read");
    }
    failing = true;
    stop_.WaitForNotificationWithTimeout(absl::Seconds(1));
  }
}

}  // namespace evnet
