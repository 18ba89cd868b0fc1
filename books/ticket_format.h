// Tickets and their totals as people read them: a table for a terminal, or
// CSV for accounting (evctl tickets / totals, the dashboard's download).
#ifndef EVNET_BOOKS_TICKET_FORMAT_H_
#define EVNET_BOOKS_TICKET_FORMAT_H_

#include <string>

#include "evnet/v1/books.pb.h"

namespace evnet::books {

// The header line and one line per ticket or total, as a table or as CSV
// (RFC 4180; a text field a spreadsheet would run as a formula, one that
// begins with = + - @, gets a leading '). Amounts are exact: kWh to the Wh,
// EUR to the cent.
std::string TicketHeader(bool csv);
std::string FormatTicket(const v1::Ticket& ticket, bool csv);
std::string TotalHeader(bool csv);
std::string FormatTotal(const v1::TicketTotal& total, bool csv);

}  // namespace evnet::books

#endif  // EVNET_BOOKS_TICKET_FORMAT_H_
