// `evctl tickets ...` and `evctl totals ...`: the operator's questions of the
// books, made into BooksService's ListTickets / SummarizeTickets (their
// answers are printed by books/ticket_format.h).
//
//   tickets [--driver D] [--cp CP] [--from T] [--to T] [--csv]
//                     every ticket that ended in [--from, --to) (RFC 3339),
//                     oldest first, all pages
//   totals driver|cp day|month [--from T] [--to T] [--csv]
//                     sessions, energy and amount summed per driver or CP
#ifndef EVNET_TOOLS_EVCTL_TICKETS_COMMAND_H_
#define EVNET_TOOLS_EVCTL_TICKETS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evnet/v1/books.pb.h"

namespace evnet {

struct TicketsCommand {
  v1::ListTicketsRequest request;
  bool csv = false;
};
struct TotalsCommand {
  v1::SummarizeTicketsRequest request;
  bool csv = false;
};

// INVALID_ARGUMENT with the usage when the words (those after the command's
// name) are not what it takes.
absl::StatusOr<TicketsCommand> ParseTicketsCommand(const std::vector<std::string>& words);
absl::StatusOr<TotalsCommand> ParseTotalsCommand(const std::vector<std::string>& words);

}  // namespace evnet

#endif  // EVNET_TOOLS_EVCTL_TICKETS_COMMAND_H_
