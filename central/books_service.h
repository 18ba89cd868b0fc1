// evnet.v1.BooksService: the operator's questions of the books (tickets,
// paged and filtered, and their totals), answered from the database the
// ledger is booked into (books/books.h). Operators only; every query is on
// the audit log, since a driver's tickets say where they were and when.
#ifndef EVNET_CENTRAL_BOOKS_SERVICE_H_
#define EVNET_CENTRAL_BOOKS_SERVICE_H_

#include "books/books.h"
#include "central/access.h"
#include "common/trust/audit_log.h"
#include "evnet/v1/books.grpc.pb.h"

namespace evnet {

class BooksServiceImpl final : public v1::BooksService::Service {
 public:
  // `books` may be null: central runs without books (not configured, or
  // they could not be opened, as `why` says), and every call is UNAVAILABLE.
  BooksServiceImpl(books::Books* books, std::string why, const Access& access, AuditLog& audit)
      : books_(books), why_(std::move(why)), access_(access), audit_(audit) {}

  grpc::Status ListTickets(grpc::ServerContext* context, const v1::ListTicketsRequest* request,
                           v1::ListTicketsResponse* response) override;
  grpc::Status SummarizeTickets(grpc::ServerContext* context,
                                const v1::SummarizeTicketsRequest* request,
                                v1::SummarizeTicketsResponse* response) override;

  // ListTickets for an operator already known to be one (the gRPC method
  // asks Access first; the dashboard has its login): one page, audited.
  absl::StatusOr<v1::ListTicketsResponse> List(const v1::ListTicketsRequest& request,
                                               const Actor& by);
  // How the audit log names a listing's target.
  static std::string Target(const v1::ListTicketsRequest& request);

 private:
  books::Books* const books_;
  const std::string why_;
  const Access& access_;
  AuditLog& audit_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_BOOKS_SERVICE_H_
