#include "central/central_service.h"

#include <algorithm>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "central/charger_operations.h"
#include "central/monitor_link.h"
#include "common/grpc/grpc_status.h"
#include "glog/logging.h"

namespace evnet {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr absl::Duration kKafkaTimeout = absl::Seconds(10);

size_t PageSize(int32_t requested) {
  return requested <= 0 ? kMaxPageSize : std::min(requested, kMaxPageSize);
}

// A stream refused before it began.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::ChargingPoint> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

CentralServiceImpl::CentralServiceImpl(Registry& registry, LinkHub& hub,
                                       SessionCoordinator& coordinator, RegistryStore& store,
                                       AuditLog& audit, const Access& access,
                                       Enrolment enrolment, Tokens tokens, const Clock& clock)
    : clock_(clock),
      registry_(registry),
      hub_(hub),
      coordinator_(coordinator),
      store_(store),
      audit_(audit),
      access_(access),
      enrolment_(enrolment),
      tokens_(tokens),
      watchers_(registry) {
  registry_.SetChangeListener([this] { watchers_.Poke(); });
}

CentralServiceImpl::~CentralServiceImpl() {
  registry_.SetChangeListener(nullptr);
  // After the server's shutdown, the links' last callbacks may still run;
  // they use the registry and the hub, which outlive this.
  if (!hub_.WaitForStreams(absl::Seconds(10))) {
    LOG(ERROR) << "Central | Monitor links still running 10 s after the shutdown";
  }
}

grpc::ServerBidiReactor<v1::MonitorMessage, v1::CentralCommand>* CentralServiceImpl::MonitorLink(
    grpc::CallbackServerContext* context) {
  return MonitorLinkReactor::Start(context, registry_, hub_, store_, audit_, access_,
                                   tokens_.chargers);
}

grpc::ServerWriteReactor<v1::ChargingPoint>* CentralServiceImpl::WatchChargingPoints(
    grpc::CallbackServerContext* context, const v1::WatchChargingPointsRequest*) {
  if (absl::StatusOr<Actor> allowed = access_.RequireOperator(*context, "cp.watch", "all CPs");
      !allowed.ok()) {
    return new RefusedWatch(ToGrpcStatus(allowed.status()));
  }
  // Kept with the watch, so that revoking the certificate ends it; one
  // revoked between the check above and now is ended here.
  absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(*context);
  const std::string certificate = peer.ok() ? peer->certificate_sha256 : "";
  grpc::ServerWriteReactor<v1::ChargingPoint>* watch = watchers_.Start(context, certificate);
  if (enrolment_.revocations != nullptr && !certificate.empty()) {
    if (absl::Status revoked = enrolment_.revocations->Check(certificate); !revoked.ok()) {
      watchers_.CloseHeldWith(certificate, ToGrpcStatus(revoked));
    }
  }
  return watch;
}

grpc::Status CentralServiceImpl::ListChargingPoints(grpc::ServerContext* context,
                                                    const v1::ListChargingPointsRequest* request,
                                                    v1::ListChargingPointsResponse* response) {
  if (absl::StatusOr<Actor> allowed = access_.RequireOperator(*context, "cp.list", "all CPs");
      !allowed.ok()) {
    return ToGrpcStatus(allowed.status());
  }
  const size_t size = PageSize(request->page_size());
  for (v1::ChargingPoint& cp : registry_.ListAfter(request->page_token(), size)) {
    *response->add_charging_points() = std::move(cp);
  }
  if (response->charging_points_size() == static_cast<int>(size)) {
    const std::string& last = response->charging_points(size - 1).info().cp_id();
    if (!registry_.ListAfter(last, 1).empty()) response->set_next_page_token(last);
  }
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::GetChargingPoint(grpc::ServerContext* context,
                                                  const v1::GetChargingPointRequest* request,
                                                  v1::ChargingPoint* response) {
  if (absl::StatusOr<Actor> allowed = access_.RequireOperator(*context, "cp.get", request->cp_id());
      !allowed.ok()) {
    return ToGrpcStatus(allowed.status());
  }
  absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(request->cp_id());
  if (!cp.ok()) return ToGrpcStatus(cp.status());
  *response = *std::move(cp);
  return grpc::Status::OK;
}

void CentralServiceImpl::SetStopped(const std::string& cp_id, bool all, bool stopped,
                                    const Actor& by, StoppedDone done) {
  const std::string action = stopped ? "cp.stop" : "cp.resume";
  if (cp_id.empty() == !all) {
    absl::Status refused =
        absl::InvalidArgumentError("name one CP with cp_id, or set all (not both)");
    audit_.Record(by, action, all ? "all CPs" : cp_id, "refused", std::string(refused.message()));
    return done(refused, {});
  }
  // Each CP's change is made at once and kept once Kafka has it (undone if
  // Kafka refuses it); `done` runs when the last of them is settled, with
  // the first error, if any, and the CPs as they are then.
  struct Pending {
    std::vector<std::string> ids;
    StoppedDone done;
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
    absl::Status status ABSL_GUARDED_BY(mu);
  };
  auto pending = std::make_shared<Pending>();
  pending->ids = all ? registry_.Ids() : std::vector<std::string>{cp_id};
  pending->done = std::move(done);
  pending->left = pending->ids.size();
  if (pending->ids.empty()) return pending->done(absl::OkStatus(), {});
  auto settled = [this, pending](absl::Status status) {
    {
      absl::MutexLock lock(&pending->mu);
      if (!status.ok() && pending->status.ok()) pending->status = status;
      if (--pending->left > 0) return;
    }
    std::vector<v1::ChargingPoint> now;
    for (const std::string& id : pending->ids) {
      if (absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(id); cp.ok()) {
        now.push_back(*std::move(cp));
      }
    }
    absl::Status first;
    {
      absl::MutexLock lock(&pending->mu);
      first = pending->status;
    }
    pending->done(first, std::move(now));
  };
  for (const std::string& id : pending->ids) {
    absl::StatusOr<v1::ChargingPoint> before = registry_.Get(id);
    if (!before.ok()) {
      audit_.Record(by, action, id, "refused", std::string(before.status().message()));
      settled(before.status());
      continue;
    }
    absl::StatusOr<v1::CpRegistryRecord> record = registry_.SetStopped(id, stopped);
    if (!record.ok()) {
      settled(record.status());
      continue;
    }
    const bool was_stopped = before->stopped_by_operator();
    // Finished from the delivery report: no thread waits for Kafka.
    store_.Save(*record, [this, id, stopped, was_stopped, by, action, settled](absl::Status saved) {
      if (!saved.ok()) {
        // Back to what it was, not to the opposite of what was asked.
        (void)registry_.SetStopped(id, was_stopped);
        audit_.Record(by, action, id, "failed", std::string(saved.message()));
        return settled(absl::UnavailableError(absl::StrCat(
            "cannot record the change of ", id, " in Kafka, so it was not made: ",
            saved.message())));
      }
      LOG(INFO) << "Central | CP " << id << (stopped ? " stopped" : " resumed")
                << " by the operator";
      audit_.Record(by, action, id, "done");
      coordinator_.TellAvailability(id, !stopped);
      if (stopped) {
        coordinator_.StopSessionAt(id, [id](absl::Status ended) {
          if (!ended.ok()) {
            LOG(WARNING) << "Central | CP " << id << ": its engine was not told to stop: "
                         << ended.message();
          }
        });
      }
      settled(absl::OkStatus());
    });
  }
}

absl::Status CentralServiceImpl::SetStoppedAndWait(
    const std::string& cp_id, bool all, bool stopped,
    google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out, const Actor& by,
    absl::Duration timeout) {
  struct Outcome {
    absl::Notification done;
    absl::Status status;
    std::vector<v1::ChargingPoint> cps;
  };
  auto outcome = std::make_shared<Outcome>();
  SetStopped(cp_id, all, stopped, by,
             [outcome](absl::Status status, std::vector<v1::ChargingPoint> cps) {
               outcome->status = std::move(status);
               outcome->cps = std::move(cps);
               outcome->done.Notify();
             });
  if (!outcome->done.WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "Kafka has not confirmed the change within ", absl::FormatDuration(timeout),
        "; it is made once Kafka has it, and undone if Kafka refuses it"));
  }
  for (v1::ChargingPoint& cp : outcome->cps) *out->Add() = std::move(cp);
  return outcome->status;
}

grpc::ServerUnaryReactor* CentralServiceImpl::StopChargingPoint(
    grpc::CallbackServerContext* context, const v1::StopChargingPointRequest* request,
    v1::StopChargingPointResponse* response) {
  return SetStoppedReactor(context, request->cp_id(), request->all(), true,
                           response->mutable_charging_points());
}

grpc::ServerUnaryReactor* CentralServiceImpl::ResumeChargingPoint(
    grpc::CallbackServerContext* context, const v1::ResumeChargingPointRequest* request,
    v1::ResumeChargingPointResponse* response) {
  return SetStoppedReactor(context, request->cp_id(), request->all(), false,
                           response->mutable_charging_points());
}

grpc::ServerUnaryReactor* CentralServiceImpl::SetStoppedReactor(
    grpc::CallbackServerContext* context, const std::string& cp_id, bool all, bool stopped,
    google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Actor> by = access_.RequireOperator(
      *context, stopped ? "cp.stop" : "cp.resume", all ? "all CPs" : cp_id);
  if (!by.ok()) {
    reactor->Finish(ToGrpcStatus(by.status()));
    return reactor;
  }
  // `out` lives until Finish.
  SetStopped(cp_id, all, stopped, *by,
             [reactor, out](absl::Status status, std::vector<v1::ChargingPoint> cps) {
               for (v1::ChargingPoint& cp : cps) *out->Add() = std::move(cp);
               reactor->Finish(ToGrpcStatus(status));
             });
  return reactor;
}

grpc::ServerUnaryReactor* CentralServiceImpl::OperateCharger(
    grpc::CallbackServerContext* context, const v1::OperateChargerRequest* request,
    v1::OperateChargerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Actor> by =
      access_.RequireOperator(*context, OperationAuditAction(*request), request->cp_id());
  if (!by.ok()) {
    reactor->Finish(ToGrpcStatus(by.status()));
    return reactor;
  }
  // `response` lives until Finish.
  Operate(*request, *by, [reactor, response](absl::StatusOr<std::string> answer) {
    if (!answer.ok()) return reactor->Finish(ToGrpcStatus(answer.status()));
    response->set_answer_json(*std::move(answer));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

void CentralServiceImpl::Operate(const v1::OperateChargerRequest& request, const Actor& by,
                                 std::function<void(absl::StatusOr<std::string>)> done) {
  // The payload is not audited: a configuration value may be a secret.
  const std::string action = OperationAuditAction(request);
  const std::string& cp_id = request.cp_id();
  absl::StatusOr<v1::CentralCommand> command = OperationCommand(request);
  absl::Status refused = command.status();
  if (refused.ok()) {
    absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(cp_id);
    if (!cp.ok()) {
      refused = cp.status();
    } else if (!cp->info().charger_operations()) {
      refused = absl::FailedPreconditionError(
          absl::StrCat(cp_id, " is not an OCPP charger: it takes no charger operations"));
    }
  }
  if (!refused.ok()) {
    audit_.Record(by, action, cp_id.substr(0, 64), "refused", std::string(refused.message()));
    return done(refused);
  }
  LOG(INFO) << "Central | " << by.name << ": " << request.action() << " at " << cp_id;
  hub_.SendForAnswer(cp_id, *command, OperationDeadline(*command),
                     [this, done = std::move(done), by, action, cp_id, request](
                         absl::StatusOr<v1::CommandResult> answered) {
                       if (!answered.ok()) {
                         audit_.Record(by, action, cp_id, "failed",
                                       std::string(answered.status().message()));
                         return done(answered.status());
                       }
                       audit_.Record(by, action, cp_id, "done",
                                     OperationOutcome(request, answered->answer_json()));
                       done(answered->answer_json());
                     });
}

grpc::Status CentralServiceImpl::ListSessions(grpc::ServerContext* context,
                                              const v1::ListSessionsRequest* request,
                                              v1::ListSessionsResponse* response) {
  if (absl::StatusOr<Actor> allowed = access_.RequireOperator(*context, "session.list", "all sessions");
      !allowed.ok()) {
    return ToGrpcStatus(allowed.status());
  }
  ListSessionsPage(*request, response);
  return grpc::Status::OK;
}

void CentralServiceImpl::ListSessionsPage(const v1::ListSessionsRequest& request,
                                          v1::ListSessionsResponse* response) const {
  const size_t size = PageSize(request.page_size());
  std::vector<v1::Session> sessions = coordinator_.Sessions(request);
  auto it = std::upper_bound(sessions.begin(), sessions.end(), request.page_token(),
                             [](const std::string& token, const v1::Session& session) {
                               return token < session.session_id();
                             });
  for (; it != sessions.end() && response->sessions_size() < static_cast<int>(size); ++it) {
    *response->add_sessions() = std::move(*it);
  }
  if (it != sessions.end() && response->sessions_size() > 0) {
    response->set_next_page_token(response->sessions(response->sessions_size() - 1).session_id());
  }
}

grpc::Status CentralServiceImpl::EnrollChargingPoint(
    grpc::ServerContext* context, const v1::EnrollChargingPointRequest* request,
    v1::Enrolment* response) {
  const absl::StatusOr<std::string> before = enrolment_.enrolments.Certificate(request->cp_id());
  absl::StatusOr<v1::Enrolment> enrolment =
      ChangeEnrolment(*context, request->cp_id(), "cp.enrol", [&](const std::string& by) {
        return Enrolments::Enrolling(request->cp_id(), request->certificate_pem(), by,
                                     clock_.Now());
      });
  if (!enrolment.ok()) return ToGrpcStatus(enrolment.status());
  // A link held with the certificate this one replaces ends now; the CP's
  // programs come back with the new one (they read it within seconds).
  if (!before.ok() || *before != request->certificate_pem()) {
    hub_.Close(enrolment->cp_id(),
               absl::PermissionDeniedError(absl::StrCat(
                   enrolment->cp_id(), " was enrolled with another certificate; connect with it")));
  }
  LOG(INFO) << "Central | CP " << enrolment->cp_id() << " enrolled by " << enrolment->changed_by()
            << " (certificate sha256 " << enrolment->certificate_sha256() << ")";
  *response = *std::move(enrolment);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::RevokeChargingPoint(
    grpc::ServerContext* context, const v1::RevokeChargingPointRequest* request,
    v1::Enrolment* response) {
  absl::StatusOr<v1::Enrolment> enrolment =
      ChangeEnrolment(*context, request->cp_id(), "cp.revoke", [&](const std::string& by) {
        return enrolment_.enrolments.Revoking(request->cp_id(), by, clock_.Now());
      });
  if (!enrolment.ok()) return ToGrpcStatus(enrolment.status());
  // Its link, if it has one, ends now; it cannot register again.
  const std::string& cp_id = enrolment->cp_id();
  hub_.Close(cp_id, absl::PermissionDeniedError(absl::StrCat(cp_id, " was revoked")));
  LOG(WARNING) << "Central | CP " << cp_id << " revoked by " << enrolment->changed_by();
  *response = *std::move(enrolment);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::RevokeCertificate(grpc::ServerContext* context,
                                                   const v1::RevokeCertificateRequest* request,
                                                   v1::RevokedCertificate* response) {
  absl::StatusOr<PeerIdentity> holder = IdentityOfCertificate(request->certificate_pem());
  const std::string target = holder.ok() ? holder->ToString() : "(no certificate)";
  absl::StatusOr<Actor> by = access_.RequireOperator(*context, "certificate.revoke", target);
  if (!by.ok()) return ToGrpcStatus(by.status());
  if (enrolment_.revocations == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this central keeps no revocations");
  }
  absl::StatusOr<v1::RevokedCertificate> revoked = enrolment_.revocations->Revoke(
      request->certificate_pem(), request->reason(), by->name, clock_.Now(), kKafkaTimeout);
  audit_.Record(*by, "certificate.revoke", target, revoked.ok() ? "done" : "refused",
                revoked.ok() ? request->reason().substr(0, 200)
                             : std::string(revoked.status().message()));
  // In force once Revoke made it so, even when Kafka did not take it yet:
  // the watches held with it end either way.
  int watches = 0;
  if (holder.ok() && !enrolment_.revocations->Check(holder->certificate_sha256).ok()) {
    watches = watchers_.CloseHeldWith(
        holder->certificate_sha256,
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                     absl::StrCat("the certificate of ", target, " was revoked")));
  }
  if (!revoked.ok()) return ToGrpcStatus(revoked.status());
  LOG(WARNING) << "Central | Certificate of " << revoked->holder() << " (sha256 "
               << revoked->certificate_sha256() << ") revoked by " << by->name
               << (watches == 0 ? "" : absl::StrCat("; its ", watches, " open watch(es) ended"));
  *response = *std::move(revoked);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::PutIdToken(grpc::ServerContext* context,
                                            const v1::PutIdTokenRequest* request,
                                            v1::IdToken* response) {
  const std::string target = absl::CHexEscape(request->id_tag().substr(0, kMaxIdTagLength));
  absl::StatusOr<Actor> by = access_.RequireOperator(*context, "token.put", target);
  if (!by.ok()) return ToGrpcStatus(by.status());
  absl::StatusOr<v1::IdToken> token = tokens_.tokens.Putting(*request, by->name, clock_.Now());
  if (!token.ok()) {
    audit_.Record(*by, "token.put", target, "refused", std::string(token.status().message()));
    return ToGrpcStatus(token.status());
  }
  const std::string what =
      absl::StrCat(v1::IdTokenStatus_Name(token->status()).substr(sizeof("ID_TOKEN_STATUS_") - 1),
                   " for ", token->driver_id());
  absl::Status saved =
      Await([&](Done done) { tokens_.store.Save(*token, std::move(done)); }, kKafkaTimeout);
  if (!saved.ok()) {
    audit_.Record(*by, "token.put", target, "failed", std::string(saved.message()));
    return ToGrpcStatus(absl::UnavailableError(absl::StrCat(
        "cannot record id tag ", target, " in Kafka, so it was not changed: ", saved.message())));
  }
  tokens_.tokens.Apply(*token);
  audit_.Record(*by, "token.put", target, "done", what);
  LOG(INFO) << "Central | Id tag " << target << " " << what << " (by " << by->name << ")";
  *response = *std::move(token);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::ListIdTokens(grpc::ServerContext* context,
                                              const v1::ListIdTokensRequest* request,
                                              v1::ListIdTokensResponse* response) {
  if (absl::StatusOr<Actor> allowed = access_.RequireOperator(*context, "token.list", "all tokens");
      !allowed.ok()) {
    return ToGrpcStatus(allowed.status());
  }
  *response = tokens_.tokens.List(*request, PageSize(request->page_size()));
  return grpc::Status::OK;
}

absl::StatusOr<v1::Enrolment> CentralServiceImpl::ChangeEnrolment(
    const grpc::ServerContext& context, const std::string& cp_id, const std::string& action,
    const std::function<absl::StatusOr<v1::Enrolment>(const std::string& by)>& change) {
  const std::string target = cp_id.substr(0, 64);
  absl::StatusOr<Actor> by = access_.RequireOperator(context, action, target);
  if (!by.ok()) return by.status();
  absl::StatusOr<v1::Enrolment> enrolment = change(by->name);
  if (!enrolment.ok()) {
    audit_.Record(*by, action, target, "refused", std::string(enrolment.status().message()));
    return enrolment.status();
  }
  absl::Status saved = Await(
      [&](Done done) { enrolment_.store.Save(*enrolment, std::move(done)); }, kKafkaTimeout);
  if (!saved.ok()) {
    audit_.Record(*by, action, target, "failed", std::string(saved.message()));
    return absl::UnavailableError(absl::StrCat("cannot record the change of ", target,
                                               " in Kafka, so it was not made: ",
                                               saved.message()));
  }
  enrolment_.enrolments.Apply(*enrolment);
  audit_.Record(*by, action, target, "done");
  return enrolment;
}

}  // namespace evnet
