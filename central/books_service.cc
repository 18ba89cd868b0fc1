#include "central/books_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/grpc_status.h"
#include "common/proto_time.h"

namespace evnet {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Totals in one answer, at most (each about 40 bytes: well within gRPC's
// 4 MB); more are refused with a hint to ask for less.
constexpr size_t kMaxTotals = 50000;

// A time the books hold (ISO 8601, UTC, milliseconds) as a Timestamp;
// unset when there is none.
void SetTime(const std::string& text, google::protobuf::Timestamp* out) {
  absl::Time time;
  if (!text.empty() && absl::ParseTime(absl::RFC3339_full, text, &time, nullptr)) {
    *out = ToProto(time);
  }
}

absl::Time From(const google::protobuf::Timestamp& t, bool set, absl::Time otherwise) {
  return set ? FromProto(t) : otherwise;
}

// The filter a page token was made for, so that a token is refused with
// another (AIP-158). The store's own token follows it.
std::string FilterKey(const v1::ListTicketsRequest& request) {
  return absl::StrCat(request.driver_id().size(), ":", request.driver_id(), "|",
                      request.cp_id().size(), ":", request.cp_id(), "|",
                      request.has_start_time() ? absl::FormatTime(FromProto(request.start_time())) : "",
                      "|",
                      request.has_end_time() ? absl::FormatTime(FromProto(request.end_time())) : "");
}

}  // namespace

grpc::Status BooksServiceImpl::ListTickets(grpc::ServerContext* context,
                                           const v1::ListTicketsRequest* request,
                                           v1::ListTicketsResponse* response) {
  absl::StatusOr<Actor> by = access_.RequireOperator(*context, "tickets.list", Target(*request));
  if (!by.ok()) return ToGrpcStatus(by.status());
  absl::StatusOr<v1::ListTicketsResponse> listed = List(*request, *by);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

std::string BooksServiceImpl::Target(const v1::ListTicketsRequest& request) {
  return absl::StrCat("tickets of driver '", request.driver_id().substr(0, 64), "' at CP '",
                      request.cp_id().substr(0, 64), "'");
}

absl::StatusOr<v1::ListTicketsResponse> BooksServiceImpl::List(
    const v1::ListTicketsRequest& request, const Actor& by) {
  if (books_ == nullptr) return absl::UnavailableError(why_);
  if (request.page_size() < 0) return absl::InvalidArgumentError("page_size is negative");
  const int size = request.page_size() == 0 ? kDefaultPageSize
                                            : std::min(request.page_size(), kMaxPageSize);
  // Opaque to the caller: the filter's key, then the store's own token.
  const std::string key = FilterKey(request);
  std::string store_token;
  if (!request.page_token().empty()) {
    std::string decoded;
    const std::string prefix = absl::StrCat(key, "\n");
    if (!absl::WebSafeBase64Unescape(request.page_token(), &decoded) ||
        decoded.compare(0, prefix.size(), prefix) != 0) {
      return absl::InvalidArgumentError(
          "page_token is not one this listing gave (tokens hold only for the filter they came "
          "with)");
    }
    store_token = decoded.substr(prefix.size());
  }
  books::TicketFilter filter;
  filter.driver_id = request.driver_id();
  filter.cp_id = request.cp_id();
  filter.from = From(request.start_time(), request.has_start_time(), absl::InfinitePast());
  filter.to = From(request.end_time(), request.has_end_time(), absl::InfiniteFuture());
  const std::string target = Target(request);
  absl::StatusOr<books::TicketPage> page = books_->Tickets(filter, size, store_token);
  if (!page.ok()) {
    audit_.Record(by, "tickets.list", target, "failed", std::string(page.status().message()));
    return page.status();
  }
  v1::ListTicketsResponse response;
  for (const books::BookedSession& s : page->tickets) {
    v1::Ticket* ticket = response.add_tickets();
    ticket->set_session_id(s.session_id);
    ticket->set_request_id(s.request_id);
    ticket->set_driver_id(s.driver_id);
    ticket->set_cp_id(s.cp_id);
    SetTime(s.accepted_at, ticket->mutable_accepted_at());
    SetTime(s.started_at, ticket->mutable_started_at());
    SetTime(s.ended_at, ticket->mutable_ended_at());
    ticket->set_end_reason(s.end_reason);
    ticket->set_energy_wh(s.energy_wh);
    ticket->set_price_per_kwh_e4(s.price_per_kwh_e4);
    ticket->set_amount_cents(s.amount_cents);
  }
  if (!page->next_page_token.empty()) {
    response.set_next_page_token(
        absl::WebSafeBase64Escape(absl::StrCat(key, "\n", page->next_page_token)));
  }
  audit_.Record(by, "tickets.list", target, "done",
                absl::StrCat(response.tickets_size(), " ticket(s)"));
  return response;
}

grpc::Status BooksServiceImpl::SummarizeTickets(grpc::ServerContext* context,
                                                const v1::SummarizeTicketsRequest* request,
                                                v1::SummarizeTicketsResponse* response) {
  absl::StatusOr<Actor> by = access_.RequireOperator(*context, "tickets.summarize", "all tickets");
  if (!by.ok()) return ToGrpcStatus(by.status());
  if (books_ == nullptr) return ToGrpcStatus(absl::UnavailableError(why_));
  const books::By group = request->group_by() == v1::SummarizeTicketsRequest::GROUP_CP
                              ? books::By::kCp
                              : books::By::kDriver;
  const books::Per period = request->period() == v1::SummarizeTicketsRequest::PERIOD_DAY
                                ? books::Per::kDay
                                : books::Per::kMonth;
  absl::StatusOr<std::vector<books::Total>> totals =
      books_->Totals(group, period,
                     From(request->start_time(), request->has_start_time(), absl::InfinitePast()),
                     From(request->end_time(), request->has_end_time(), absl::InfiniteFuture()),
                     kMaxTotals + 1);
  if (totals.ok() && totals->size() > kMaxTotals) {
    totals = absl::FailedPreconditionError(absl::StrCat(
        "more than ", kMaxTotals, " totals: ask for a shorter time range, or per month"));
  }
  if (!totals.ok()) {
    audit_.Record(*by, "tickets.summarize", "all tickets", "failed",
                  std::string(totals.status().message()));
    return ToGrpcStatus(totals.status());
  }
  for (const books::Total& t : *totals) {
    v1::TicketTotal* total = response->add_totals();
    total->set_key(t.key);
    total->set_period(t.period);
    total->set_sessions(t.sessions);
    total->set_energy_wh(t.energy_wh);
    total->set_amount_cents(t.amount_cents);
  }
  audit_.Record(*by, "tickets.summarize", "all tickets", "done",
                absl::StrCat(response->totals_size(), " total(s)"));
  return grpc::Status::OK;
}

}  // namespace evnet
