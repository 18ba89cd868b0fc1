// evctl: the operator's command line for a running evnet network.
//
//   evctl status [--json]             the CP table, from central's API (--json:
//                                     every CP as ListChargingPointsResponse's JSON)
//   evctl stop CP-001 | --all         stop one CP or all (ends running sessions)
//   evctl resume CP-001 | --all
//   evctl sessions [CP-001]           sessions and their tickets
//   evctl enrol CP-001 CERT_FILE      let a CP join with its certificate (tools/pki/evpki)
//   evctl revoke CP-001               close its link now and keep it out
//   evctl revoke-certificate CERT_FILE [REASON...]
//                                     refuse a driver's or an operator's certificate
//   evctl engine CP-001 ADDRESS unplug|fault|recover
//                                     what a person at the charger does
//   evctl operator NAME < password    a line of central's --operator_credentials
//   evctl charger CP-001 reset soft|hard | unlock CONNECTOR | get-configuration [KEY...] |
//         set-configuration KEY VALUE | trigger MESSAGE [CONNECTOR] | clear-cache |
//         data-transfer VENDOR [MESSAGE [DATA]] | call ACTION [JSON]
//                                     an OCPP charger's operation; prints its answer
//                                     (--operation_timeout: how long it may take)
//   evctl token add ID_TAG DRIVER [--expires RFC3339] [--group GROUP] |
//         block ID_TAG | unblock ID_TAG | list [DRIVER]
//                                     drivers' cards: a card swiped at an OCPP
//                                     charger charges its driver
//   evctl tickets [--driver D] [--cp CP] [--from T] [--to T] [--csv]
//                                     the books: every ticket ended in [T, T)
//   evctl totals driver|cp day|month [--from T] [--to T] [--csv]
//                                     the books summed per driver or CP
//
// Flags before the command: --central_address, and the operator's
// certificate (--tls_ca, --tls_cert, --tls_key) or --insecure.
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "books/ticket_format.h"
#include "central/cp_table.h"
#include "central/operator_auth.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/grpc/grpc_channel.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/trust/transport_security.h"
#include "evnet/v1/books.grpc.pb.h"
#include "evnet/v1/central.grpc.pb.h"
#include "evnet/v1/engine.grpc.pb.h"
#include "tools/evctl/charger_command.h"
#include "tools/evctl/tickets_command.h"
#include "tools/evctl/token_command.h"

ABSL_FLAG(std::string, central_address, "127.0.0.1:50051", "central (env CENTRAL_ADDRESS)");
ABSL_FLAG(absl::Duration, operation_timeout, absl::Seconds(30),
          "evctl charger: how long the charger has to answer (at most 1m)");

namespace evnet {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(5);

int Fail(const grpc::Status& status) {
  std::cerr << "evctl: " << status.error_message() << " ("
            << (status.error_code() == grpc::StatusCode::UNAVAILABLE
                    ? "is central running? tools/ev up starts the network"
                    : "request refused")
            << ")\n";
  return 1;
}

int Status(v1::CentralService::Stub& central, bool json) {
  std::vector<v1::ChargingPoint> cps;
  v1::ListChargingPointsRequest request;
  do {  // every page
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kTimeout));
    v1::ListChargingPointsResponse response;
    grpc::Status status = central.ListChargingPoints(&context, request, &response);
    if (!status.ok()) return Fail(status);
    cps.insert(cps.end(), response.charging_points().begin(), response.charging_points().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (json) {  // for scripts: one line, every page in one response
    v1::ListChargingPointsResponse all;
    for (v1::ChargingPoint& cp : cps) *all.add_charging_points() = std::move(cp);
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::cout << RenderCpTable(cps, isatty(STDOUT_FILENO));
  return 0;
}

template <typename Request, typename Response, typename Call>
int StopOrResume(const std::string& target, Call call) {
  Request request;
  if (target == "--all") request.set_all(true);
  else request.set_cp_id(target);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  Response response;
  grpc::Status status = call(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::vector<v1::ChargingPoint> cps(response.charging_points().begin(),
                                     response.charging_points().end());
  std::cout << RenderCpTable(cps, isatty(STDOUT_FILENO));
  return 0;
}

int Sessions(v1::CentralService::Stub& central, const std::string& cp_id) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  v1::ListSessionsRequest request;
  request.set_cp_id(cp_id);
  v1::ListSessionsResponse response;
  grpc::Status status = central.ListSessions(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << absl::StrFormat("%-40s %-8s %-14s %-10s %8s %8s  %s\n", "SESSION", "CP", "DRIVER",
                               "STATE", "kWh", "EUR", "END");
  for (const v1::Session& s : response.sessions()) {
    std::string state = v1::SessionState_Name(s.state()).substr(strlen("SESSION_STATE_"));
    std::string end = s.has_ticket()
                          ? v1::SessionEndReason_Name(s.ticket().end_reason())
                                .substr(strlen("SESSION_END_REASON_"))
                          : "-";
    double kwh = s.has_ticket() ? s.ticket().energy_kwh() : s.supply().energy_kwh();
    double eur = s.has_ticket() ? s.ticket().amount_eur() : s.supply().amount_eur();
    std::cout << absl::StrFormat("%-40s %-8s %-14s %-10s %8.3f %8.2f  %s\n", s.session_id(),
                                 s.cp_id(), s.driver_id(), state, kwh, eur, end);
  }
  return 0;
}

int Engine(const TransportSecurity& security, const std::string& cp_id,
           const std::string& address, const std::string& action) {
  v1::SimulateRequest request;
  if (action == "unplug") request.set_action(v1::SIMULATE_ACTION_UNPLUG);
  else if (action == "fault") request.set_action(v1::SIMULATE_ACTION_FAULT);
  else if (action == "recover") request.set_action(v1::SIMULATE_ACTION_RECOVER);
  else {
    std::cerr << "evctl: engine actions are unplug, fault and recover\n";
    return 2;
  }
  auto engine =
      v1::EngineService::NewStub(MakeChannel(address, security, ServerNameOf(kRoleCp, cp_id)));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  v1::SimulateResponse response;
  grpc::Status status = engine->Simulate(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << "engine of " << cp_id << " at " << address << " is now " << v1::EngineState_Name(response.state())
            << "\n";
  return 0;
}

// A line of central's --operator_credentials for NAME, whose password is the
// first line of stdin (never an argument: it would show in `ps`).
int OperatorLine(const std::string& name) {
  std::string password;
  if (!std::getline(std::cin, password) || password.empty()) {
    std::cerr << "evctl: give the password of " << name << " on stdin\n";
    return 2;
  }
  std::cout << OperatorAuth::CredentialLine(name, password) << "\n";
  return 0;
}

int Enrol(v1::CentralService::Stub& central, const std::string& cp_id,
          const std::string& cert_file) {
  absl::StatusOr<std::string> pem = ReadFile(cert_file);
  if (!pem.ok()) {
    std::cerr << "evctl: " << pem.status().message() << "\n";
    return 2;
  }
  v1::EnrollChargingPointRequest request;
  request.set_cp_id(cp_id);
  request.set_certificate_pem(*pem);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  v1::Enrolment enrolment;
  grpc::Status status = central.EnrollChargingPoint(&context, request, &enrolment);
  if (!status.ok()) return Fail(status);
  std::cout << cp_id << " enrolled (certificate sha256 " << enrolment.certificate_sha256()
            << ")\n";
  return 0;
}

int Revoke(v1::CentralService::Stub& central, const std::string& cp_id) {
  v1::RevokeChargingPointRequest request;
  request.set_cp_id(cp_id);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  v1::Enrolment enrolment;
  grpc::Status status = central.RevokeChargingPoint(&context, request, &enrolment);
  if (!status.ok()) return Fail(status);
  std::cout << cp_id << " revoked\n";
  return 0;
}

int RevokeCertificate(v1::CentralService::Stub& central, const std::string& cert_file,
                      const std::string& reason) {
  absl::StatusOr<std::string> pem = ReadFile(cert_file);
  if (!pem.ok()) {
    std::cerr << "evctl: " << pem.status().message() << "\n";
    return 2;
  }
  v1::RevokeCertificateRequest request;
  request.set_certificate_pem(*pem);
  request.set_reason(reason);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kTimeout));
  v1::RevokedCertificate revoked;
  grpc::Status status = central.RevokeCertificate(&context, request, &revoked);
  if (!status.ok()) return Fail(status);
  std::cout << "certificate of " << revoked.holder() << " revoked (sha256 "
            << revoked.certificate_sha256() << ")\n";
  return 0;
}

int Charger(v1::CentralService::Stub& central, const std::string& cp_id,
            const std::vector<std::string>& words) {
  absl::StatusOr<ChargerCommand> command = ParseChargerCommand(words);
  if (!command.ok()) {
    std::cerr << "evctl: usage: " << command.status().message() << "\n";
    return 2;
  }
  v1::OperateChargerRequest request;
  request.set_cp_id(cp_id);
  request.set_action(command->action);
  request.set_payload_json(command->payload_json);
  const absl::Duration timeout = absl::GetFlag(FLAGS_operation_timeout);
  *request.mutable_timeout() = ToProto(timeout);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout + absl::Seconds(10)));
  v1::OperateChargerResponse response;
  grpc::Status status = central.OperateCharger(&context, request, &response);
  if (!status.ok()) {
    // From central, the gateway or the charger: the message says which.
    std::cerr << "evctl: " << cp_id << " " << command->action << ": " << status.error_message()
              << "\n";
    return 1;
  }
  std::cout << cp_id << " answered " << command->action << ": " << response.answer_json() << "\n";
  return 0;
}

int Token(v1::CentralService::Stub& central, const std::vector<std::string>& words) {
  absl::StatusOr<TokenCommand> command = ParseTokenCommand(words);
  if (!command.ok()) {
    std::cerr << "evctl: usage: " << command.status().message() << "\n";
    return 2;
  }
  if (const auto* put = std::get_if<v1::PutIdTokenRequest>(&*command)) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kTimeout));
    v1::IdToken token;
    grpc::Status status = central.PutIdToken(&context, *put, &token);
    if (!status.ok()) return Fail(status);
    std::cout << FormatToken(token) << "\n";
    return 0;
  }
  v1::ListIdTokensRequest request = std::get<v1::ListIdTokensRequest>(*command);
  do {  // every page
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kTimeout));
    v1::ListIdTokensResponse response;
    grpc::Status status = central.ListIdTokens(&context, request, &response);
    if (!status.ok()) return Fail(status);
    for (const v1::IdToken& token : response.id_tokens()) std::cout << FormatToken(token) << "\n";
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return 0;
}

int Tickets(v1::BooksService::Stub& books, const std::vector<std::string>& words) {
  absl::StatusOr<TicketsCommand> command = ParseTicketsCommand(words);
  if (!command.ok()) {
    std::cerr << "evctl: usage: " << command.status().message() << "\n";
    return 2;
  }
  std::cout << books::TicketHeader(command->csv) << "\n";
  v1::ListTicketsRequest& request = command->request;
  do {  // every page
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kTimeout));
    v1::ListTicketsResponse response;
    grpc::Status status = books.ListTickets(&context, request, &response);
    if (!status.ok()) return Fail(status);
    for (const v1::Ticket& ticket : response.tickets()) {
      std::cout << books::FormatTicket(ticket, command->csv) << "\n";
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return 0;
}

int Totals(v1::BooksService::Stub& books, const std::vector<std::string>& words) {
  absl::StatusOr<TotalsCommand> command = ParseTotalsCommand(words);
  if (!command.ok()) {
    std::cerr << "evctl: usage: " << command.status().message() << "\n";
    return 2;
  }
  grpc::ClientContext context;
  // A month of a large network's tickets is summed in seconds.
  context.set_deadline(DeadlineIn(absl::Minutes(1)));
  v1::SummarizeTicketsResponse response;
  grpc::Status status = books.SummarizeTickets(&context, command->request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << books::TotalHeader(command->csv) << "\n";
  for (const v1::TicketTotal& total : response.totals()) {
    std::cout << books::FormatTotal(total, command->csv) << "\n";
  }
  return 0;
}

int Main(const std::vector<std::string>& args) {
  auto usage = [] {
    std::cerr << "usage: evctl [FLAGS] status | stop CP|--all | resume CP|--all | sessions [CP] | "
                 "enrol CP CERT_FILE | revoke CP | revoke-certificate CERT_FILE [REASON...] | "
                 "engine CP ADDRESS unplug|fault|recover | operator NAME < password | "
                 "charger CP OPERATION... | token add|block|unblock|list ... | tickets ... | "
                 "totals driver|cp day|month ...\n";
    return 2;
  };
  if (args.empty()) return usage();
  if (args[0] == "operator" && args.size() == 2) return OperatorLine(args[1]);
  absl::StatusOr<TransportSecurity> security = TransportSecurityFromFlags("evctl");
  if (!security.ok()) {
    std::cerr << "evctl: " << security.status().message() << "\n";
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel =
      MakeCentralChannel(absl::GetFlag(FLAGS_central_address), *security);
  auto central = v1::CentralService::NewStub(channel);
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "tickets") return Tickets(*v1::BooksService::NewStub(channel), rest);
  if (command == "totals") return Totals(*v1::BooksService::NewStub(channel), rest);
  if (command == "status" && args.size() == 1) return Status(*central, false);
  if (command == "status" && args.size() == 2 && args[1] == "--json") return Status(*central, true);
  if (command == "sessions" && args.size() <= 2) return Sessions(*central, args.size() == 2 ? args[1] : "");
  if (command == "stop" && args.size() == 2) {
    return StopOrResume<v1::StopChargingPointRequest, v1::StopChargingPointResponse>(
        args[1], [&](auto* c, const auto& r, auto* out) { return central->StopChargingPoint(c, r, out); });
  }
  if (command == "resume" && args.size() == 2) {
    return StopOrResume<v1::ResumeChargingPointRequest, v1::ResumeChargingPointResponse>(
        args[1], [&](auto* c, const auto& r, auto* out) { return central->ResumeChargingPoint(c, r, out); });
  }
  if (command == "enrol" && args.size() == 3) return Enrol(*central, args[1], args[2]);
  if (command == "revoke" && args.size() == 2) return Revoke(*central, args[1]);
  if (command == "revoke-certificate" && args.size() >= 2) {
    return RevokeCertificate(*central, args[1],
                             absl::StrJoin(args.begin() + 2, args.end(), " "));
  }
  if (command == "engine" && args.size() == 4) return Engine(*security, args[1], args[2], args[3]);
  if (command == "token" && args.size() >= 2) {
    return Token(*central, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (command == "charger" && args.size() >= 3) {
    return Charger(*central, args[1], std::vector<std::string>(args.begin() + 2, args.end()));
  }
  return usage();
}

}  // namespace
}  // namespace evnet

int main(int argc, char** argv) {
  // "--all" is an argument here, not a flag: let absl see only what precedes the command.
  std::vector<char*> flag_args = {argv[0]};
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "--", 2) == 0; ++i) flag_args.push_back(argv[i]);
  evnet::InitProgram(static_cast<int>(flag_args.size()), flag_args.data(),
                     "evctl: operate a running evnet network",
                     evnet::WithTransportSecurityEnv({{"central_address", "CENTRAL_ADDRESS"}}));
  std::vector<std::string> args(argv + i, argv + argc);
  return evnet::Main(args);
}
