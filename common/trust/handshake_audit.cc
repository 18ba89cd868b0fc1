#include "common/trust/handshake_audit.h"

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpc/support/log.h"

namespace evnet {
namespace {

// What gRPC's TLS layer logs when it refuses a handshake, before the reason.
constexpr absl::string_view kRefused = "Handshake failed with fatal error ";

absl::Mutex mu(absl::kConstInit);
AuditLog* audit_log ABSL_GUARDED_BY(mu) = nullptr;
std::string* audit_target ABSL_GUARDED_BY(mu) = nullptr;

// gRPC's log function: any gRPC thread, at any time.
void LogThroughGlog(gpr_log_func_args* args) {
  const google::LogSeverity severity =
      args->severity == GPR_LOG_SEVERITY_ERROR ? google::GLOG_ERROR : google::GLOG_INFO;
  google::LogMessage(args->file, args->line, severity).stream() << args->message;
  const absl::string_view message(args->message);
  if (!absl::StartsWith(message, kRefused)) return;
  absl::MutexLock lock(&mu);  // Record never blocks: it only queues the record
  if (audit_log == nullptr) return;
  audit_log->RecordRetriedRefusal({"unknown client", "unknown"}, "tls.handshake", *audit_target,
                                  std::string(message.substr(kRefused.size())));
}

}  // namespace

void AuditRefusedHandshakes(AuditLog* audit, const std::string& target) {
  {
    absl::MutexLock lock(&mu);
    audit_log = audit;
    delete audit_target;
    audit_target = new std::string(target);
  }
  gpr_set_log_function(&LogThroughGlog);
}

}  // namespace evnet
